// libjpeg-turbo, from Debian's libjpeg-dev. jpeglib.h needs stdio's FILE and size_t first.
#include <stdio.h>
#include <stddef.h>
#include <jpeglib.h>
#include "sbcl_jpeg_decode.h"
