"""heap_util.py — shared by the image gen scripts (gen_images_tiff_webp.py,
manifest_images_pillow13.py): dirty_heap, run before each decode, so that a
decoder reading memory it never wrote gives another result each time."""
import ctypes

LIBC = ctypes.CDLL(None)
LIBC.malloc.restype = ctypes.c_void_p
LIBC.free.argtypes = [ctypes.c_void_p]


def dirty_heap(byte):
    """Leave freed malloc blocks of every small size filled with byte, so a
    decoder that reads memory it never wrote shows it."""
    blocks = []
    for size in list(range(8, 4096, 8)) * 4:
        b = LIBC.malloc(size)
        ctypes.memset(b, byte, size)
        blocks.append(b)
    for b in blocks:
        LIBC.free(b)
