/* separator.h - the separation handle's internals shared inside libdumu (src/separator.c). */
#ifndef DUMU_SEPARATOR_H
#define DUMU_SEPARATOR_H

#include <stdint.h>

#include "dumu/dumu.h"

/* Makes `out` a set of n stems (n >= 1) called names[0..n) (static strings) with no audio
 * yet. On failure (DUMU_E_NOMEM) `out` is left zeroed. Release with dumu_stems_deinit. */
dumu_status dumu_stems_init(dumu_stems *out, int32_t n, const char *const *names, dumu_error *err);

#endif /* DUMU_SEPARATOR_H */
