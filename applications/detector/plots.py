"""The detector's figures: images with their detected boxes drawn."""

from applications.core.plots import new_figure, write_png

COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6")


def plot_detections(path, image, detections, title=""):
    """Draw ``detections`` (``{"class", "score", "box": [xmin, ymin, xmax, ymax]}``, in the
    image's pixels) on ``image`` (``uint8 [H, W, 3]``) and write a PNG to ``path``."""
    from matplotlib.patches import Rectangle

    height, width = image.shape[:2]
    scale = 6.0 / max(height, width)
    figure = new_figure(width * scale, height * scale)
    figure.set_layout_engine(None)  # the image fills the figure; no margins to lay out
    axes = figure.add_axes([0, 0, 1, 1])
    axes.imshow(image)
    axes.set_axis_off()
    names = sorted({d["class"] for d in detections})
    for found in detections:
        xmin, ymin, xmax, ymax = found["box"]
        colour = COLOURS[names.index(found["class"]) % len(COLOURS)]
        axes.add_patch(Rectangle((xmin, ymin), xmax - xmin, ymax - ymin, fill=False,
                                 edgecolor=colour, linewidth=2))
        axes.text(xmin, ymin, f"{found['class']} {found['score']:.2f}", color="white",
                  fontsize=8, va="bottom", bbox={"facecolor": colour, "alpha": 0.8, "pad": 1,
                                                "edgecolor": "none"})
    if title:
        axes.text(2, height - 2, title, color="white", fontsize=7, va="bottom")
    write_png(figure, path)
