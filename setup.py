from setuptools import find_packages, setup

setup(
    name="encore",
    version="0.1.0",
    description="Classic deep-learning models as trainable, tunable, exportable applications "
                "on TensorFlow 2 / Keras 3",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists(
        "README.md") else "",
    long_description_content_type="text/markdown",
    # Keras 3.13 and later need Python 3.11.
    python_requires=">=3.11",
    packages=find_packages(include=["encoders*", "applications*", "data*", "tuning*"]),
    # `encore <application> <verb>`: the same command line as `python -m applications.<app>`.
    entry_points={"console_scripts": ["encore = applications.main:main"]},
    # TensorFlow comes from exactly one extra, `cpu` or `gpu`: pip cannot swap a default
    # wheel for another, and `tensorflow-cpu` and `tensorflow` both write `tensorflow/`.
    install_requires=[
        # Published safe_mode bypasses were fixed in 3.9 (CVE-2025-1550), 3.11.0
        # (CVE-2025-8747, -9906), 3.11.3 (CVE-2025-9905), 3.13.2 (CVE-2026-1462); 3.14.0
        # has CVE-2026-12481 (Lambda with safe_mode unset). 3.15.1 is the first release
        # checked to carry them all, and the one tested (core/compat.py warns outside 3.15).
        "keras>=3.15.1",
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
        # single-threaded graph tracing, so two workers halve the suite on 2 cores;
        # `--dist loadscope` keeps a module's tests on one worker, which then builds the
        # module's trained-model fixtures once rather than once a worker.
        # The optional readers below are in `test` too, so the default suite covers them.
        "test": ["pytest>=7", "pytest-xdist>=3", "av>=12", "pycocotools>=2.0.7", "music21>=9"],
        # video_classifier: PyAV, FFmpeg's own libraries in the wheel, decodes a file frame
        # by frame straight into numpy arrays (and writes the clips the tests read back).
        "video": ["av>=12"],
        # detector: pycocotools is the COCO reference implementation of mAP 0.5:0.95.
        "detection": ["pycocotools>=2.0.7"],
        # language_model generate --midi: music21 (maintained, pure Python) reads ABC
        # tunes and writes MIDI in one library; the tune check itself needs nothing.
        "music": ["music21>=9"],
        # captioner evaluate: CIDEr-D from the COCO caption evaluation (pure-Python scorer;
        # the 104 MB wheel also bundles its Java tools, which the captioner does not use).
        "caption": ["pycocoevalcap>=1.2"],
        # `tune --tuner bayesian` (Keras Tuner's Gaussian-process oracle).
        "bayesian": ["scipy", "scikit-learn"],
        # Side-by-side benchmarks: benchmarks/tabular.py against scikit-learn's gradient
        # boosting and MLP, benchmarks/peer_spacy_tagger.py against spaCy's tagger.
        "benchmark": ["scikit-learn>=1.2", "spacy>=3.7"],
        # One TensorFlow, chosen here: `pip install -e ".[cpu]"` (the CPU-only wheel on
        # x86_64, the standard one elsewhere) or `pip install -e ".[gpu]"` (Linux, CUDA
        # libraries from pip).
        "cpu": ["tensorflow-cpu>=2.16; platform_machine == 'x86_64'",
                "tensorflow>=2.16; platform_machine != 'x86_64'"],
        "gpu": ["tensorflow[and-cuda]>=2.16"],
    },
)
