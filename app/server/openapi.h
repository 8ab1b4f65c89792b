/* openapi.h - static texts served by `dumu serve`: GET /openapi.json and GET /docs.
 * Both return NUL-terminated strings built once and kept for the life of the process;
 * thread-safe. */
#ifndef DUMU_SRV_OPENAPI_H
#define DUMU_SRV_OPENAPI_H

const char *srv_openapi_json(void);

const char *srv_docs_html(void);

#endif /* DUMU_SRV_OPENAPI_H */
