"""In-graph image decoding for served models: encoded PNG/JPEG bytes in, uint8 pixels out.

It converts as the folder reader (:mod:`data.image_files`) does, so an exported model sees the
pixels training saw.
"""

import tensorflow as tf

from data.image_files import MAX_IMAGE_PIXELS

JPEG_MAGIC = b"\xff\xd8\xff"


def decode_images(data, height, width, channels):
    """Decode a batch of PNG/JPEG/GIF/BMP bytes to ``uint8 [N, height, width, channels]``.

    Gray and RGB files both decode to RGB first, then gray models take the ITU-R 601 luma
    (as the folder reader does); a file of another size is resized bilinearly, as training
    resized folder images. A file whose header declares more than
    :data:`~data.image_files.MAX_IMAGE_PIXELS` pixels fails with ``InvalidArgumentError`` before
    it is decoded (a decompression bomb never reaches memory).

    Example:
        >>> png = tf.io.encode_png(tf.zeros([3, 5, 1], tf.uint8))
        >>> tuple(decode_images(tf.stack([png, png]), 4, 4, 1).shape)
        (2, 4, 4, 1)
    """

    def one(encoded):
        check = tf.debugging.assert_less_equal(
            declared_pixels(encoded), tf.constant(MAX_IMAGE_PIXELS, tf.int64),
            message=f"refused: the image declares more than {MAX_IMAGE_PIXELS} pixels "
                    "(a decompression bomb?)")
        with tf.control_dependencies([check]):
            # JPEG with the accurate integer DCT, as PIL (the folder reader) decodes it;
            # TensorFlow's default fast DCT differs by a few levels.
            image = tf.cond(
                tf.equal(tf.strings.substr(encoded, 0, 3), JPEG_MAGIC),
                lambda: tf.io.decode_jpeg(encoded, channels=3, dct_method="INTEGER_ACCURATE"),
                lambda: tf.io.decode_image(encoded, channels=3, expand_animations=False))
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


def declared_pixels(encoded):
    """Width times height as a PNG, JPEG, GIF or BMP header declares it (int64; 0 if none).

    Reads only the first bytes (JPEG: its frame header), so the check costs nothing next to
    decoding.
    """
    head = tf.strings.substr(encoded, 0, 32)
    head = tf.io.decode_raw(tf.strings.substr(tf.strings.join([head, tf.constant(b"\0" * 32)]),
                                              0, 32), tf.uint8)
    head = tf.cast(head, tf.int64)

    # Each side is capped at 2**31 so that the product cannot overflow int64.
    def big_endian(start, length):
        return tf.minimum(sum(head[start + i] * 256 ** (length - 1 - i)
                              for i in range(length)), 2 ** 31)

    def little_endian(start, length):
        return sum(head[start + i] * 256 ** i for i in range(length))

    def signed32(value):
        return tf.minimum(tf.abs(tf.where(value >= 2 ** 31, value - 2 ** 32, value)), 2 ** 31)

    def jpeg():
        shape = tf.cast(tf.io.extract_jpeg_shape(encoded), tf.int64)
        return shape[0] * shape[1]

    magic = tf.strings.substr(encoded, 0, 4)
    png = tf.equal(magic, b"\x89PNG")
    gif = tf.equal(tf.strings.substr(encoded, 0, 3), b"GIF")
    bmp = tf.equal(tf.strings.substr(encoded, 0, 2), b"BM")
    is_jpeg = tf.equal(tf.strings.substr(encoded, 0, 3), JPEG_MAGIC)
    other = tf.where(png, big_endian(16, 4) * big_endian(20, 4),
                     tf.where(gif, little_endian(6, 2) * little_endian(8, 2),
                              tf.where(bmp, signed32(little_endian(18, 4))
                                       * signed32(little_endian(22, 4)),
                                       tf.constant(0, tf.int64))))
    return tf.cond(is_jpeg, jpeg, lambda: other)
