// setjmp-guarded JPEG decoding for Swift: libjpeg reports fatal errors through error_exit, which
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

// Quiet, but still counting warnings (level −1) as libjpeg's own emit_message does, so that a
// truncated or corrupt scan is caught below.
static void sbcl_jpeg_silence(j_common_ptr info, int level) {
    if (level < 0) info->err->num_warnings++;
}

/// The most scans a progressive JPEG may hold: each scan is a pass over the whole image, so a
/// small file of thousands of scans would take minutes to decode (libjpeg-turbo's djpeg offers
/// the same guard as -maxscan). Real encoders write about ten.
#define SBCL_JPEG_MAX_SCANS 1000

static void sbcl_jpeg_progress(j_common_ptr info) {
    if (info->is_decompressor && ((j_decompress_ptr)info)->input_scan_number > SBCL_JPEG_MAX_SCANS) {
        struct sbcl_jpeg_error *error = (struct sbcl_jpeg_error *)info->err;
        snprintf(error->message, JMSG_LENGTH_MAX, "more than %d progressive scans (a damaged file or a decoding bomb)",
                 SBCL_JPEG_MAX_SCANS);
        longjmp(error->jump, 1);
    }
}

/// Reads only the header of a JPEG held in memory: the full-size width and height and the
/// number of components in the file (1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK). Returns 0, or -1 with
/// libjpeg's message in message (JMSG_LENGTH_MAX bytes).
static inline int sbcl_jpeg_header(const unsigned char *data, unsigned long size, int *width, int *height,
                                   int *components, char *message) {
    struct jpeg_decompress_struct info;
    struct sbcl_jpeg_error error;
    memset(&info, 0, sizeof(info));
    info.err = jpeg_std_error(&error.manager);
    error.manager.error_exit = sbcl_jpeg_error_exit;
    error.manager.emit_message = sbcl_jpeg_silence;
    error.message[0] = 0;
    if (setjmp(error.jump)) {
        strncpy(message, error.message, JMSG_LENGTH_MAX - 1);
        message[JMSG_LENGTH_MAX - 1] = 0;
        jpeg_destroy_decompress(&info);
        return -1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, size);
    jpeg_read_header(&info, TRUE);
    *width = (int)info.image_width;
    *height = (int)info.image_height;
    *components = info.num_components;
    jpeg_destroy_decompress(&info);
    return 0;
}

/// Pillow's CMYK → RGB on Adobe-inverted samples (what libjpeg returns for CMYK and YCCK files,
/// which Pillow reads as "CMYK;I"): with c = 255 − stored, k = 255 − stored_k, each channel is
/// (255 − k) − MULDIV255(c, 255 − k), MULDIV255(a, b) = ((a·b + 128) >> 8 + a·b + 128) >> 8.
static inline void sbcl_cmyk_row_to_rgb(const unsigned char *in, unsigned char *out, unsigned width) {
    for (unsigned x = 0; x < width; x++) {
        int nk = in[4 * x + 3];  // 255 − k with k = 255 − stored
        for (int c = 0; c < 3; c++) {
            int tmp = (255 - in[4 * x + c]) * nk + 128;
            int v = nk - (((tmp >> 8) + tmp) >> 8);
            out[3 * x + c] = (unsigned char)(v < 0 ? 0 : (v > 255 ? 255 : v));
        }
    }
}

/// Decodes a JPEG held in memory to 8-bit RGB (channels = 3) or gray (channels = 1, only when
/// want_gray), scaled by scale_num / 8 in the DCT (1 ≤ scale_num ≤ 8; each side becomes
/// ceil(side · scale_num / 8)). Gray files become RGB by replication, CMYK and YCCK files by
/// Pillow's conversion. On success returns 0 and a malloc'ed buffer in *pixels (free it); on
/// failure returns -1 with libjpeg's message in message (JMSG_LENGTH_MAX bytes). Corrupt-data
/// warnings (truncated scans) are fatal, so a damaged file is never half-decoded silently.
/// A header claiming more than max_pixels full-size pixels returns -2 with the full size in
/// *width and *height, before anything is allocated for the image.
static inline int sbcl_jpeg_decode_limited(const unsigned char *data, unsigned long size, int want_gray, int scale_num,
                                           long long max_pixels, unsigned char **pixels, int *width, int *height,
                                           int *channels, char *message) {
    struct jpeg_decompress_struct info;
    struct sbcl_jpeg_error error;
    unsigned char *volatile out = NULL;
    unsigned char *volatile row4 = NULL;
    struct jpeg_progress_mgr progress;
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
        free(row4);
        return -1;
    }
    jpeg_create_decompress(&info);
    progress.progress_monitor = sbcl_jpeg_progress;
    info.progress = &progress;
    jpeg_mem_src(&info, data, size);
    jpeg_read_header(&info, TRUE);
    if ((long long)info.image_width * (long long)info.image_height > max_pixels) {
        *width = (int)info.image_width;
        *height = (int)info.image_height;
        strcpy(message, "too many pixels");
        jpeg_destroy_decompress(&info);
        return -2;
    }
    int cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
    info.out_color_space = cmyk ? JCS_CMYK : (want_gray ? JCS_GRAYSCALE : JCS_RGB);
    info.scale_num = (unsigned)(scale_num < 1 ? 1 : (scale_num > 8 ? 8 : scale_num));
    info.scale_denom = 8;
    jpeg_start_decompress(&info);
    int outComponents = cmyk ? 3 : info.output_components;
    size_t stride = (size_t)info.output_width * (size_t)outComponents;
    out = (unsigned char *)malloc(stride * info.output_height + 1);
    if (cmyk) row4 = (unsigned char *)malloc((size_t)info.output_width * 4 + 1);
    if (!out || (cmyk && !row4)) {
        strcpy(message, "out of memory");
        jpeg_destroy_decompress(&info);
        free(out);
        free(row4);
        return -1;
    }
    while (info.output_scanline < info.output_height) {
        unsigned char *row = out + stride * info.output_scanline;
        if (cmyk) {
            unsigned char *raw = row4;
            jpeg_read_scanlines(&info, &raw, 1);
            sbcl_cmyk_row_to_rgb(row4, row, info.output_width);
        } else {
            jpeg_read_scanlines(&info, &row, 1);
        }
    }
    if (info.err->num_warnings > 0) {
        strcpy(message, "corrupt or truncated JPEG data");
        jpeg_destroy_decompress(&info);
        free(out);
        free(row4);
        return -1;
    }
    jpeg_finish_decompress(&info);
    free(row4);
    row4 = NULL;
    if (cmyk && want_gray) {
        // Pillow's RGB → L on the converted pixels, in place.
        size_t n = (size_t)info.output_width * info.output_height;
        for (size_t p = 0; p < n; p++) {
            out[p] = (unsigned char)((out[3 * p] * 19595 + out[3 * p + 1] * 38470 + out[3 * p + 2] * 7471 + 0x8000) >> 16);
        }
        outComponents = 1;
    }
    *width = (int)info.output_width;
    *height = (int)info.output_height;
    *channels = outComponents;
    *pixels = out;
    jpeg_destroy_decompress(&info);
    return 0;
}

/// `sbcl_jpeg_decode_limited` with no pixel limit (libjpeg's own: 65500 per side).
static inline int sbcl_jpeg_decode_scaled(const unsigned char *data, unsigned long size, int want_gray, int scale_num,
                                          unsigned char **pixels, int *width, int *height, int *channels,
                                          char *message) {
    return sbcl_jpeg_decode_limited(data, size, want_gray, scale_num, (long long)1 << 62, pixels, width, height,
                                    channels, message);
}

/// `sbcl_jpeg_decode_scaled` at full size.
static inline int sbcl_jpeg_decode(const unsigned char *data, unsigned long size, int want_gray,
                                   unsigned char **pixels, int *width, int *height, int *channels,
                                   char *message) {
    return sbcl_jpeg_decode_scaled(data, size, want_gray, 8, pixels, width, height, channels, message);
}

/// Compresses 8-bit gray (components = 1) or RGB (components = 3) pixels to a baseline JPEG of
/// `quality` (1–100, 4:2:0 for RGB as libjpeg's default). On success returns 0 and a malloc'ed
/// buffer in *jpeg of *jpeg_size bytes (free it); on failure -1 with libjpeg's message.
static inline int sbcl_jpeg_encode(const unsigned char *pixels, int width, int height, int components, int quality,
                                   unsigned char **jpeg, unsigned long *jpeg_size, char *message) {
    struct jpeg_compress_struct info;
    struct sbcl_jpeg_error error;
    unsigned char *buffer = NULL;
    unsigned long length = 0;
    memset(&info, 0, sizeof(info));
    info.err = jpeg_std_error(&error.manager);
    error.manager.error_exit = sbcl_jpeg_error_exit;
    error.manager.emit_message = sbcl_jpeg_silence;
    error.message[0] = 0;
    if (setjmp(error.jump)) {
        strncpy(message, error.message, JMSG_LENGTH_MAX - 1);
        message[JMSG_LENGTH_MAX - 1] = 0;
        jpeg_destroy_compress(&info);
        free(buffer);
        return -1;
    }
    jpeg_create_compress(&info);
    jpeg_mem_dest(&info, &buffer, &length);
    info.image_width = (JDIMENSION)width;
    info.image_height = (JDIMENSION)height;
    info.input_components = components;
    info.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality, TRUE);
    jpeg_start_compress(&info, TRUE);
    size_t stride = (size_t)width * (size_t)components;
    while (info.next_scanline < info.image_height) {
        const unsigned char *row = pixels + stride * info.next_scanline;
        JSAMPROW rows[1] = {(JSAMPROW)row};
        jpeg_write_scanlines(&info, rows, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    *jpeg = buffer;
    *jpeg_size = length;
    return 0;
}
#endif
