"""Box annotations for object detection: PASCAL VOC XML files and box CSV files.

Both readers return :class:`AnnotatedImage` records (one per image, boxes in the image's own
pixels) and check every box against its image: a box outside the image, a box with
``xmax <= xmin`` or ``ymax <= ymin``, an annotation naming a missing image and an XML file
without ``<size>`` are :class:`~data.errors.InputError` naming the file (and, for CSV, the
line).

The CSV has a header line ``filename,width,height,class,xmin,ymin,xmax,ymax`` and one row
per box (the format of the TensorFlow Object Detection API's ``xml_to_csv`` tools).

Example:
    >>> images = read_annotations("train_labels.csv", "images/")  # doctest: +SKIP
    >>> images[0].filename, images[0].boxes[0]  # doctest: +SKIP
    ('raccoon-17.jpg', (95.0, 60.0, 167.0, 118.0))
"""

import csv
import dataclasses
import os
import xml.etree.ElementTree as ElementTree

from data.errors import InputError
from data.files import iter_lines

CSV_COLUMNS = ("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax")


@dataclasses.dataclass
class AnnotatedImage:
    """One image and its boxes.

    Attributes:
        filename: the image's name as the annotation gives it.
        path: the image file (``images_dir`` joined with ``filename``).
        width: the image's width in pixels, as annotated.
        height: its height.
        boxes: ``(xmin, ymin, xmax, ymax)`` per box, in pixels.
        classes: the class name of each box.
        source: the annotation file, and ``line`` its first line naming this image
            (None for XML).
    """

    filename: str
    path: str
    width: int
    height: int
    boxes: list = dataclasses.field(default_factory=list)
    classes: list = dataclasses.field(default_factory=list)
    source: str = ""
    line: int = None


def read_annotations(path, images_dir):
    """Read a box CSV file, one VOC XML file or a folder of them (``*.xml``).

    Args:
        path: the annotation file or folder.
        images_dir: the folder the annotations' file names are relative to.

    Returns:
        A list of :class:`AnnotatedImage`, in the order the images first appear (XML files
        sorted by name).

    Raises:
        InputError: a bad file, box or image reference (see the module docstring).
    """
    if os.path.isdir(path):
        files = sorted(os.path.join(path, n) for n in os.listdir(path)
                       if n.lower().endswith(".xml") and not n.startswith("."))
        if not files:
            raise InputError("no .xml annotation files in this folder", path)
        return [read_voc_xml(f, images_dir) for f in files]
    if not os.path.exists(path):
        raise InputError("no such file", path)
    if path.lower().endswith(".xml"):
        return [read_voc_xml(path, images_dir)]
    return read_box_csv(path, images_dir)


def read_box_csv(path, images_dir):
    """The images of a ``filename,width,height,class,xmin,ymin,xmax,ymax`` CSV file."""
    images = {}
    # iter_lines: a BOM (Excel writes one), .gz, and bad UTF-8 named by line.
    rows = csv.reader(text + "\n" for _, text in iter_lines(path))
    header = [h.strip().lower() for h in next(rows, [])]
    if tuple(header) != CSV_COLUMNS:
        raise InputError(f"expected the header {','.join(CSV_COLUMNS)}", path, 1)
    for number, row in enumerate(rows, start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != len(CSV_COLUMNS):
            raise InputError(f"expected {len(CSV_COLUMNS)} fields, found {len(row)}",
                             path, number)
        name, cls = row[0].strip(), row[3].strip()
        width, height = (_number(v, f, path, number, int)
                         for v, f in zip(row[1:3], CSV_COLUMNS[1:3]))
        box = tuple(_number(v, f, path, number, float)
                    for v, f in zip(row[4:], CSV_COLUMNS[4:]))
        image = images.get(name)
        if image is None:
            image = images[name] = _new_image(name, width, height, images_dir, path,
                                              number)
        elif (image.width, image.height) != (width, height):
            raise InputError(f"{name} was {image.width}x{image.height} on line "
                             f"{image.line}, here {width}x{height}", path, number)
        _add_box(image, cls, box, path, number)
    if not images:
        raise InputError("no boxes in this file", path)
    return list(images.values())


def read_voc_xml(path, images_dir):
    """The image of one PASCAL VOC annotation file (``<filename>``, ``<size>``, ``<object>``)."""
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as err:
        raise InputError(f"not well-formed XML ({err})", path) from None
    name = (root.findtext("filename") or "").strip()
    if not name:
        raise InputError("no <filename>", path)
    size = root.find("size")
    if size is None:
        raise InputError("no <size> (the image's width and height)", path)
    width, height = (_number(size.findtext(tag), f"<size><{tag}>", path, None, int)
                     for tag in ("width", "height"))
    image = _new_image(name, width, height, images_dir, path, None)
    for found in root.iter("object"):
        cls = (found.findtext("name") or "").strip()
        box = found.find("bndbox")
        if box is None:
            raise InputError(f"an <object> ({cls or 'no name'}) without <bndbox>", path)
        coords = tuple(_number(box.findtext(tag), f"<bndbox><{tag}>", path, None, float)
                       for tag in ("xmin", "ymin", "xmax", "ymax"))
        _add_box(image, cls, coords, path, None)
    return image


def _new_image(name, width, height, images_dir, source, line):
    if width < 1 or height < 1:
        raise InputError(f"image size {width}x{height} must be positive", source, line)
    image_path = os.path.join(images_dir, name)
    if not os.path.isfile(image_path):
        raise InputError(f"image {name} not found in {images_dir}", source, line)
    return AnnotatedImage(name, image_path, width, height, source=source, line=line)


def _add_box(image, cls, box, source, line):
    xmin, ymin, xmax, ymax = box
    if not cls:
        raise InputError("a box without a class name", source, line)
    if xmax <= xmin or ymax <= ymin:
        raise InputError(f"box {_show(box)} is empty: xmax <= xmin or ymax <= ymin",
                         source, line)
    if xmin < 0 or ymin < 0 or xmax > image.width or ymax > image.height:
        raise InputError(f"box {_show(box)} lies outside its {image.width}x{image.height} "
                         f"image {image.filename}", source, line)
    image.boxes.append(box)
    image.classes.append(cls)


def _number(text, field, path, line, kind):
    try:
        value = float((text or "").strip())
    except ValueError:
        raise InputError(f"{field}: expected a number, found {text!r}", path, line) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"{field}: expected a finite number, found {text!r}", path, line)
    if kind is int:
        if value != int(value):
            raise InputError(f"{field}: expected a whole number, found {text!r}", path, line)
        return int(value)
    return value


def _show(box):
    return "(" + ", ".join(f"{v:g}" for v in box) + ")"
