// A setjmp-guarded JPEG decode for Swift: libjpeg reports fatal errors through error_exit, which
// must not return, and Swift cannot unwind through C frames — so the longjmp lives here.
#ifndef SBCL_JPEG_DECODE_H
#define SBCL_JPEG_DECODE_H
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

struct sbcl_jpeg_error {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

static void sbcl_jpeg_error_exit(j_common_ptr info) {
    struct sbcl_jpeg_error *error = (struct sbcl_jpeg_error *)info->err;
    (*info->err->format_message)(info, error->message);
    longjmp(error->jump, 1);
}

static void sbcl_jpeg_silence(j_common_ptr info, int level) { (void)info; (void)level; }

/// Decodes a JPEG held in memory to 8-bit RGB (channels = 3) or gray (channels = 1, only when
/// want_gray). On success returns 0 and a malloc'ed buffer in *pixels (free it); on failure
/// returns -1 with libjpeg's message in message (JMSG_LENGTH_MAX bytes). Corrupt-data warnings
/// (truncated scans) are fatal, so a damaged file is never half-decoded silently.
static inline int sbcl_jpeg_decode(const unsigned char *data, unsigned long size, int want_gray,
                                   unsigned char **pixels, int *width, int *height, int *channels,
                                   char *message) {
    struct jpeg_decompress_struct info;
    struct sbcl_jpeg_error error;
    unsigned char *volatile out = NULL;
    memset(&info, 0, sizeof(info));
    info.err = jpeg_std_error(&error.manager);
    error.manager.error_exit = sbcl_jpeg_error_exit;
    error.manager.emit_message = sbcl_jpeg_silence;
    error.message[0] = 0;
    if (setjmp(error.jump)) {
        strncpy(message, error.message, JMSG_LENGTH_MAX - 1);
        message[JMSG_LENGTH_MAX - 1] = 0;
        jpeg_destroy_decompress(&info);
        free(out);
        return -1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, size);
    jpeg_read_header(&info, TRUE);
    info.out_color_space = want_gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    size_t stride = (size_t)info.output_width * (size_t)info.output_components;
    out = (unsigned char *)malloc(stride * info.output_height);
    if (!out) {
        strcpy(message, "out of memory");
        jpeg_destroy_decompress(&info);
        return -1;
    }
    while (info.output_scanline < info.output_height) {
        unsigned char *row = out + stride * info.output_scanline;
        jpeg_read_scanlines(&info, &row, 1);
    }
    if (info.err->num_warnings > 0) {
        strcpy(message, "corrupt or truncated JPEG data");
        jpeg_destroy_decompress(&info);
        free(out);
        return -1;
    }
    jpeg_finish_decompress(&info);
    *width = (int)info.output_width;
    *height = (int)info.output_height;
    *channels = info.output_components;
    *pixels = out;
    jpeg_destroy_decompress(&info);
    return 0;
}
#endif
