/* zip.h - a zip archive (PKWARE APPNOTE 6.3: local headers, deflated data, central directory;
 * names in UTF-8, no ZIP64) built in memory: the download of a batch's results, whose files
 * are small (MIDI, MusicXML, tab: kilobytes each, at most SRV_BATCH_MAX songs).
 *
 * Usage: struct srv_zip z = {0}; srv_zip_add(&z, ...) per file; srv_zip_finish(&z, &data,
 * &len) hands the archive to the caller (free with free) and frees the rest; srv_zip_free
 * drops an archive that is not finished. Not thread-safe; one per request.
 */
#ifndef DUMU_SRV_ZIP_H
#define DUMU_SRV_ZIP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct srv_zip {
    uint8_t *data; /* local headers and file data so far; owned */
    size_t len, cap;
    uint8_t *dir; /* central directory entries so far; owned */
    size_t dir_len, dir_cap;
    int n;      /* entries */
    int failed; /* an allocation or compression failed: finish fails */
};

/* Adds file `name` (a relative path with '/' separators, under 256 bytes) of `n` bytes,
 * deflated, modified at `mtime`. 0, or -1 (out of memory, or the archive would pass 4 GiB or
 * 65535 entries). */
int srv_zip_add(struct srv_zip *z, const char *name, const void *bytes, size_t n, time_t mtime);

/* Ends the archive: *out (malloc'd, the caller's) holds *len bytes. 0, or -1 when an add
 * failed (nothing returned; everything freed either way). */
int srv_zip_finish(struct srv_zip *z, uint8_t **out, size_t *len);

/* Frees an unfinished archive. */
void srv_zip_free(struct srv_zip *z);

#endif /* DUMU_SRV_ZIP_H */
