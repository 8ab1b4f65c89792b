/* files.h - reading a small whole file, for the front ends (dumu eval's manifest, the
 * server's stored result.json). Thread-safe; no state. */
#ifndef DUMU_APP_FILES_H
#define DUMU_APP_FILES_H

#include <stddef.h>

/* The bytes of the file at `path`, NUL-terminated (malloc'ed: free() it), their count (without
 * the NUL) in *len when len is not NULL. NULL when the file cannot be opened or read, or holds
 * more than max_bytes. */
char *dumu_app_read_file(const char *path, size_t max_bytes, size_t *len);

#endif /* DUMU_APP_FILES_H */
