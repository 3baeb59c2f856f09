// zlib, from Debian's zlib1g-dev: gzip-compressed IDX files and download checks.
#include <zlib.h>
