// The libjpeg shim (Sources/CJPEG) under AddressSanitizer and UndefinedBehaviorSanitizer: every
// file named on the command line is read as a JPEG header, decoded at every DCT scale in colour
// and gray (with the pixel limit at its default and at 64), and each decoded image encoded again.
// Built and run by Fuzz/C/sanitize.sh over the test fixtures and the fuzz corpus.
#include <stdio.h>
#include <stdlib.h>
#include "shim.h"

static unsigned char *slurp(const char *path, unsigned long *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(n > 0 ? (size_t)n : 1);
    *size = n > 0 ? fread(data, 1, (size_t)n, f) : 0;
    fclose(f);
    return data;
}

int main(int argc, char **argv) {
    long decoded = 0, refused = 0;
    for (int a = 1; a < argc; a++) {
        unsigned long size = 0;
        unsigned char *data = slurp(argv[a], &size);
        if (!data) continue;
        char message[JMSG_LENGTH_MAX];
        int width, height, components, channels;
        sbcl_jpeg_header(data, size, &width, &height, &components, message);
        for (int scale = 1; scale <= 8; scale++) {
            for (int gray = 0; gray <= 1; gray++) {
                long long limits[2] = {89478485, 64};
                for (int l = 0; l < 2; l++) {
                    unsigned char *pixels = NULL;
                    int status = sbcl_jpeg_decode_limited(data, size, gray, scale, limits[l], &pixels, &width, &height,
                                                          &channels, message);
                    if (status != 0) { refused++; continue; }
                    decoded++;
                    if (channels == 1 || channels == 3) {
                        unsigned char *jpeg = NULL;
                        unsigned long length = 0;
                        if (sbcl_jpeg_encode(pixels, width, height, channels, 75, &jpeg, &length, message) == 0) free(jpeg);
                    }
                    free(pixels);
                }
            }
        }
        free(data);
    }
    printf("jpeg shim: %d files, %ld decodes, %ld refusals, no sanitizer report\n", argc - 1, decoded, refused);
    return 0;
}
