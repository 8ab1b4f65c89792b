/* models.c - model folder lookup shared by the front ends (see models.h). */
#include "models.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int dir_has_model(const char *dir) {
    char path[PATH_MAX];
    int len = snprintf(path, sizeof path, "%s/basic-pitch/model.json", dir);
    return len > 0 && (size_t)len < sizeof path && access(path, R_OK) == 0;
}

const char *dumu_app_find_models(const char *given, char *buf, size_t cap) {
    if (given) return given;
    const char *env = getenv("DUMU_MODELS_DIR");
    if (env && *env) return env;
    if (dir_has_model("models")) return "models";
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        const char *rel[] = {"models", "../models", "../share/dumu/models"};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            int len = snprintf(buf, cap, "%s/%s", exe, rel[i]);
            if (len > 0 && (size_t)len < cap && dir_has_model(buf)) return buf;
        }
    }
    return "models";
}
