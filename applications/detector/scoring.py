"""Detection scores: VOC average precision at IoU 0.5 and COCO mAP over IoU 0.5:0.95.

Both take the same inputs: per image the true boxes ``[n, 4]`` (``xmin, ymin, xmax, ymax``
in pixels) with their class ids, and the detections with scores and class ids.
"""

import contextlib
import io

import numpy as np


def pixel_iou(box, others):
    """IoU of one ``xmin, ymin, xmax, ymax`` box with each row of ``others [n, 4]``."""
    others = np.asarray(others, np.float64).reshape(-1, 4)
    width = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0,
                     None)
    inter = width * height
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


def voc_average_precision(truth, detections, class_id, iou_threshold=0.5):
    """VOC average precision of one class (all-point interpolation, VOC 2010 onwards).

    Detections of the class, best score first over all images, are matched to the
    unmatched true box of the same image they overlap most; a match at IoU >=
    ``iou_threshold`` is a true positive, anything else a false positive. AP is the area
    under the precision-recall curve made monotone from the right.

    Args:
        truth: per image ``(boxes [n, 4], class ids [n])``.
        detections: per image ``(boxes [d, 4], scores [d], class ids [d])``.
        class_id: the class scored.

    Returns:
        AP in [0, 1], or None when the class has no true boxes.
    """
    expected = sum(int((ids == class_id).sum()) for _, ids in truth)
    if expected == 0:
        return None
    found = [(score, image, box) for image, (boxes, scores, ids) in enumerate(detections)
             for box, score, c in zip(boxes, scores, ids) if c == class_id]
    found.sort(key=lambda item: -item[0])
    matched = [np.zeros(int((ids == class_id).sum()), bool) for _, ids in truth]
    hits = np.zeros(len(found))
    for k, (_, image, box) in enumerate(found):
        boxes, ids = truth[image]
        mine = np.asarray(boxes)[ids == class_id]
        if len(mine) == 0:
            continue
        overlaps = pixel_iou(box, mine)
        best = int(overlaps.argmax())
        if overlaps[best] >= iou_threshold and not matched[image][best]:
            matched[image][best] = True
            hits[k] = 1
    true_positives = np.cumsum(hits)
    recall = true_positives / expected
    precision = true_positives / np.arange(1, len(found) + 1)
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.nonzero(recall[1:] != recall[:-1])[0]
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


def coco_scores(truth, detections, class_count):
    """COCO bounding-box AP by pycocotools (maximum 100 detections per image, all areas).

    Returns:
        ``{"map": mean AP over IoU 0.5:0.95, "ap50": COCO's AP at IoU 0.5,
        "map_per_class": [AP 0.5:0.95 per class, None for a class without true boxes]}``.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, annotations, results = [], [], []
    for image, ((boxes, ids), (found, scores, found_ids)) in enumerate(zip(truth, detections)):
        images.append({"id": image})
        for box, c in zip(np.asarray(boxes).reshape(-1, 4), ids):
            w, h = float(box[2] - box[0]), float(box[3] - box[1])
            annotations.append({"id": len(annotations) + 1, "image_id": image,
                                "category_id": int(c), "iscrowd": 0, "area": w * h,
                                "bbox": [float(box[0]), float(box[1]), w, h]})
        for box, score, c in zip(np.asarray(found).reshape(-1, 4), scores, found_ids):
            results.append({"image_id": image, "category_id": int(c), "score": float(score),
                            "bbox": [float(box[0]), float(box[1]), float(box[2] - box[0]),
                                     float(box[3] - box[1])]})
    empty = {"map": 0.0, "ap50": 0.0, "map_per_class": [
        0.0 if any((ids == c).any() for _, ids in truth) else None for c in range(class_count)]}
    if not annotations or not results:
        return empty
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints as it goes
        ground = COCO()
        ground.dataset = {"images": images, "annotations": annotations,
                          "categories": [{"id": c} for c in range(class_count)]}
        ground.createIndex()
        evaluation = COCOeval(ground, ground.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    precision = evaluation.eval["precision"]  # [IoU, recall, class, area, max detections]
    per_class = []
    for c in range(class_count):
        values = precision[:, :, c, 0, -1]
        values = values[values > -1]
        per_class.append(float(values.mean()) if values.size else None)
    return {"map": float(evaluation.stats[0]), "ap50": float(evaluation.stats[1]),
            "map_per_class": per_class}


def detection_report(truth, detections, class_names):
    """The ``evaluate`` figures: VOC ``ap50`` (mean over classes with true boxes, and per
    class) and COCO ``map`` (0.5:0.95, mean and per class)."""
    per_class = {name: voc_average_precision(truth, detections, c)
                 for c, name in enumerate(class_names)}
    scored = [v for v in per_class.values() if v is not None]
    coco = coco_scores(truth, detections, len(class_names))
    return {
        "ap50": float(np.mean(scored)) if scored else 0.0,
        "ap50_per_class": per_class,
        "map": coco["map"],
        "map_per_class": dict(zip(class_names, coco["map_per_class"])),
        "coco_ap50": coco["ap50"],
        "images": len(truth),
        "boxes": int(sum(len(ids) for _, ids in truth)),
        "detections": int(sum(len(s) for _, s, _ in detections)),
    }
