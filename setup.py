from setuptools import find_packages, setup

setup(
    name="encore",
    version="0.1.0",
    description="Classic deep-learning models as trainable, tunable, exportable applications "
                "on TensorFlow 2 / Keras 3",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists(
        "README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["encoders*", "applications*", "data*", "tuning*"]),
    install_requires=[
        "tensorflow>=2.16; platform_machine != 'x86_64'",
        "tensorflow-cpu>=2.16; platform_machine == 'x86_64'",
        "keras>=3.3",
        "keras-tuner>=1.4",
        # keras-tuner imports tensorboard in every trial but does not declare it.
        "tensorboard>=2.16",
        "numpy",
        # PNG outputs: anomaly plots now; confusion matrices and attention heatmaps next.
        "matplotlib>=3.7",
        # Reading PNG/JPEG class folders (image classifier, autoencoder).
        "pillow>=9",
        # BLEU and chrF for the translator: sacrebleu is the reference scorer (its own
        # tokenisation and smoothing), so scores compare with published ones.
        "sacrebleu>=2",
    ],
    extras_require={
        # pytest-xdist runs the suite in two worker processes: most of a test's time is
        # single-threaded graph tracing, so two workers halve the suite on 2 cores.
        "test": ["pytest>=7", "pytest-xdist>=3"],
        # `tune --tuner bayesian` (Keras Tuner's Gaussian-process oracle).
        "bayesian": ["scipy", "scikit-learn"],
        # GPU users replace the CPU wheel with the CUDA build of TensorFlow.
        "gpu": ["tensorflow[and-cuda]>=2.16"],
    },
)
