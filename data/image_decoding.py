"""In-graph image decoding for served models: encoded PNG/JPEG bytes in, uint8 pixels out.

It converts as the folder reader (:mod:`data.images`) does, so an exported model sees the
pixels training saw.
"""

import tensorflow as tf


def decode_images(data, height, width, channels):
    """Decode a batch of PNG/JPEG/GIF/BMP bytes to ``uint8 [N, height, width, channels]``.

    Gray and RGB files both decode to RGB first, then gray models take the ITU-R 601 luma
    (as the folder reader does); a file of another size is resized bilinearly, as training
    resized folder images.

    Example:
        >>> png = tf.io.encode_png(tf.zeros([3, 5, 1], tf.uint8))
        >>> tuple(decode_images(tf.stack([png, png]), 4, 4, 1).shape)
        (2, 4, 4, 1)
    """

    def one(encoded):
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        if channels == 1:
            image = tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))
            image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        size = tf.shape(image)[:2]
        same = tf.reduce_all(tf.equal(size, [height, width]))
        image = tf.cond(same, lambda: image, lambda: tf.cast(tf.clip_by_value(tf.round(
            tf.image.resize(image, [height, width])), 0, 255), tf.uint8))
        return tf.ensure_shape(image, [height, width, channels])

    return tf.map_fn(one, data, fn_output_signature=tf.TensorSpec([height, width, channels],
                                                                  tf.uint8))
