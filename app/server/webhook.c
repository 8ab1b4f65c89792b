/* webhook.c - checking webhook URLs, signing and posting deliveries (see webhook.h). */
#define _DEFAULT_SOURCE /* getaddrinfo, strncasecmp */
#include "webhook.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dumu/dumu.h"

#include "docs.h"

static int refuse(char *why, size_t n, const char *text) {
    snprintf(why, n, "%s", text);
    return -1;
}

/* ---------------------------------------------------------------------------------------- */
/* Addresses */

static bool in4(uint32_t a, uint32_t net, int bits) {
    return bits == 0 || (a >> (32 - bits)) == (net >> (32 - bits));
}

static srv_addr_class class4(uint32_t a) {
    if (in4(a, 0x00000000u, 8)) return SRV_ADDR_FORBIDDEN;    /* 0/8 "this network" */
    if (in4(a, 0xe0000000u, 4)) return SRV_ADDR_FORBIDDEN;    /* 224/4 multicast */
    if (in4(a, 0xf0000000u, 4)) return SRV_ADDR_FORBIDDEN;    /* 240/4 reserved, broadcast */
    if (in4(a, 0x7f000000u, 8) ||                             /* 127/8 loopback */
        in4(a, 0x0a000000u, 8) ||                             /* 10/8 */
        in4(a, 0xac100000u, 12) ||                            /* 172.16/12 */
        in4(a, 0xc0a80000u, 16) ||                            /* 192.168/16 */
        in4(a, 0x64400000u, 10) ||                            /* 100.64/10 carrier-grade NAT */
        in4(a, 0xa9fe0000u, 16) ||                            /* 169.254/16 link-local, cloud
                                                               metadata services */
        in4(a, 0xc0000000u, 24) ||                            /* 192.0.0/24 IETF assignments */
        in4(a, 0xc0000200u, 24) || in4(a, 0xc6336400u, 24) || /* documentation ranges */
        in4(a, 0xcb007100u, 24) ||                            /* documentation */
        in4(a, 0xc6120000u, 15))                              /* 198.18/15 benchmarking */
        return SRV_ADDR_PRIVATE;
    return SRV_ADDR_PUBLIC;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static srv_addr_class class6(const uint8_t b[16]) {
    static const uint8_t zero[12] = {0};
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0) return class4(be32(b + 12));
    if (memcmp(b, zero, 12) == 0) { /* ::/96: only ::1 is an address one may name */
        return be32(b + 12) == 1 ? SRV_ADDR_PRIVATE : SRV_ADDR_FORBIDDEN;
    }
    if (b[0] == 0x20 && b[1] == 0x02) return class4(be32(b + 2)); /* 2002::/16 6to4 */
    if (b[0] == 0xff) return SRV_ADDR_FORBIDDEN;                  /* ff00::/8 multicast */
    if (b[0] == 0x01 && b[1] == 0x00 && be32(b + 2) == 0 && b[6] == 0 && b[7] == 0)
        return SRV_ADDR_FORBIDDEN;                 /* 100::/64 discard-only */
    if ((b[0] & 0xfe) == 0xfc ||                   /* fc00::/7 unique local */
        (b[0] == 0xfe && (b[1] & 0x80) == 0x80) || /* fe80::/10 link-local, fec0::/10 */
        (be32(b) == 0x20010db8u))                  /* 2001:db8::/32 documentation */
        return SRV_ADDR_PRIVATE;
    return SRV_ADDR_PUBLIC;
}

srv_addr_class srv_webhook_addr_class(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        return class4(ntohl(s4->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        return class6(s6->sin6_addr.s6_addr);
    }
    return SRV_ADDR_FORBIDDEN;
}

/* ---------------------------------------------------------------------------------------- */
/* URLs */

/* Splits "scheme://authority/path" into *t (host, port, https) and the path's offset. */
static int parse_url(const char *url, srv_webhook_target *t, size_t *path_at, char *why, size_t n) {
    size_t len = strlen(url);
    if (len == 0) return refuse(why, n, "webhook_url is empty");
    if (len >= SRV_WEBHOOK_URL_MAX) return refuse(why, n, "webhook_url is longer than 2047 bytes");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)url[i];
        if (ch <= 0x20 || ch >= 0x7f)
            return refuse(why, n, "webhook_url must be printable ASCII without spaces");
        if (ch == '#') return refuse(why, n, "webhook_url must not have a #fragment");
    }
    const char *p;
    if (strncasecmp(url, "https://", 8) == 0) {
        t->https = true;
        p = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        t->https = false;
        p = url + 7;
    } else {
        return refuse(why, n, "webhook_url must start with http:// or https://");
    }
    size_t auth_len = strcspn(p, "/?");
    if (memchr(p, '@', auth_len))
        return refuse(why, n, "webhook_url must not carry a user name or password");
    const char *host = p, *port = NULL;
    size_t host_len;
    if (*p == '[') { /* [IPv6] */
        const char *close = memchr(p, ']', auth_len);
        if (!close) return refuse(why, n, "webhook_url has an unclosed [IPv6 address]");
        host = p + 1;
        host_len = (size_t)(close - host);
        if (close + 1 < p + auth_len) {
            if (close[1] != ':') return refuse(why, n, "webhook_url has a malformed host");
            port = close + 2;
        }
    } else {
        const char *colon = memchr(p, ':', auth_len);
        host_len = colon ? (size_t)(colon - p) : auth_len;
        if (colon) port = colon + 1;
    }
    if (host_len == 0) return refuse(why, n, "webhook_url names no host");
    if (host_len >= sizeof t->host) return refuse(why, n, "webhook_url's host name is too long");
    for (size_t i = 0; i < host_len; i++)
        t->host[i] = (char)tolower((unsigned char)host[i]);
    t->host[host_len] = '\0';
    t->port = t->https ? 443 : 80;
    if (port) {
        unsigned long v = 0;
        const char *end = p + auth_len;
        if (port == end) return refuse(why, n, "webhook_url has an empty port");
        for (const char *q = port; q < end; q++) {
            if (!isdigit((unsigned char)*q) || (v = v * 10 + (unsigned long)(*q - '0')) > 65535)
                return refuse(why, n, "webhook_url's port must be 1-65535");
        }
        if (v == 0) return refuse(why, n, "webhook_url's port must be 1-65535");
        t->port = (uint16_t)v;
    }
    *path_at = (size_t)(p + auth_len - url);
    return 0;
}

/* srv_webhook_check; *later (when not NULL) tells a refusal that may pass another time: the
 * name server did not answer (EAI_AGAIN), which the sender retries like a receiver that is
 * down. */
static int check_url(const char *url, bool allow_private, srv_webhook_target *t, char *why,
                     size_t why_len, bool *later) {
    memset(t, 0, sizeof *t);
    if (later) *later = false;
    size_t path_at;
    if (parse_url(url, t, &path_at, why, why_len)) return -1;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)t->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(t->host, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(why, why_len, "webhook_url's host %s does not resolve (%s)", t->host,
                 gai_strerror(rc));
        if (later) *later = rc == EAI_AGAIN;
        return -1;
    }
    const struct addrinfo *pick = NULL;
    int bad = 0;
    for (const struct addrinfo *a = res; a; a = a->ai_next) {
        srv_addr_class c = srv_webhook_addr_class(a->ai_addr);
        if (c == SRV_ADDR_FORBIDDEN || (c == SRV_ADDR_PRIVATE && !allow_private)) {
            bad = c == SRV_ADDR_FORBIDDEN ? 2 : bad ? bad : 1;
        } else if (!pick) {
            pick = a;
        }
    }
    if (bad || !pick) {
        snprintf(why, why_len,
                 bad == 2 ? "webhook_url's host %s resolves to an address that cannot be reached"
                          : "webhook_url's host %s resolves to a loopback, private or "
                            "link-local address (the operator can allow these with "
                            "--webhook-allow-private)",
                 t->host);
        freeaddrinfo(res);
        return -1;
    }
    memcpy(&t->sa, pick->ai_addr, pick->ai_addrlen);
    const void *raw =
        pick->ai_family == AF_INET
            ? (const void *)&((const struct sockaddr_in *)(const void *)pick->ai_addr)->sin_addr
            : (const void *)&((const struct sockaddr_in6 *)(const void *)pick->ai_addr)->sin6_addr;
    inet_ntop(pick->ai_family, raw, t->addr, sizeof t->addr);
    freeaddrinfo(res);
    /* the URL as it will be requested: the lower-cased host, the path as given */
    bool v6 = strchr(t->host, ':') != NULL;
    snprintf(t->url, sizeof t->url, "%s://%s%s%s:%u%s", t->https ? "https" : "http", v6 ? "[" : "",
             t->host, v6 ? "]" : "", (unsigned)t->port, url[path_at] ? url + path_at : "/");
    return 0;
}

int srv_webhook_check(const char *url, bool allow_private, srv_webhook_target *t, char *why,
                      size_t why_len) {
    return check_url(url, allow_private, t, why, why_len, NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Signing and posting */

void srv_webhook_sign(const char *secret, int64_t timestamp, const char *body, size_t body_len,
                      char out[SRV_WEBHOOK_SIG_MAX]) {
    char prefix[32];
    int np = snprintf(prefix, sizeof prefix, "%lld.", (long long)timestamp);
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)prefix, (unsigned long long)np);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[2 * crypto_auth_hmacsha256_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    snprintf(out, SRV_WEBHOOK_SIG_MAX, "t=%lld,v1=%s", (long long)timestamp, hex);
}

void srv_webhook_new_secret(char out[SRV_HASH_LEN]) {
    unsigned char key[SRV_WEBHOOK_KEY_BYTES];
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(out, SRV_HASH_LEN, key, sizeof key);
}

int srv_webhook_global_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK && sodium_init() >= 0 ? 0 : -1;
}

static size_t drop_body(char *data, size_t size, size_t count, void *user) {
    (void)data;
    (void)user;
    return size * count;
}

/* curl's progress callback, about once a second and at every transfer: non-zero aborts. */
static int stop_requested(void *stop, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                          curl_off_t ulnow) {
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return atomic_load((const atomic_int *)stop) != 0;
}

static double wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void srv_webhook_post(const srv_webhook_target *t, const char *event, const char *delivery_id,
                      const char *signature, const char *body, size_t body_len,
                      const atomic_int *stop, srv_webhook_result *res) {
    memset(res, 0, sizeof *res);
    double t0 = wall_s();
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(res->error, sizeof res->error, "out of memory");
        res->retry = true;
        return;
    }
    char line[512], pin[512], agent[64];
    struct curl_slist *headers = NULL, *resolve = NULL;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    snprintf(line, sizeof line, "Dumu-Event: %s", event);
    headers = curl_slist_append(headers, line);
    snprintf(line, sizeof line, "Dumu-Delivery: %s", delivery_id);
    headers = curl_slist_append(headers, line);
    snprintf(line, sizeof line, "Dumu-Signature: %s", signature);
    headers = curl_slist_append(headers, line);
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
    /* connect to the checked address, not to whatever the name resolves to now */
    bool v6 = strchr(t->addr, ':') != NULL;
    snprintf(pin, sizeof pin, "%s:%u:%s%s%s", t->host, (unsigned)t->port, v6 ? "[" : "", t->addr,
             v6 ? "]" : "");
    resolve = curl_slist_append(resolve, pin);
    snprintf(agent, sizeof agent, "dumu/%s", dumu_version());
    curl_easy_setopt(h, CURLOPT_URL, t->url);
    curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);       /* a redirect could point anywhere */
    curl_easy_setopt(h, CURLOPT_PROXY, "");                /* nor through an environment proxy */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);             /* threads: no SIGALRM for timeouts */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L); /* a live receiver answers SYN fast */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);       /* receivers should queue, not work */
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, agent);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, drop_body);
    if (stop) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, stop_requested);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)stop);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->http_status);
    res->seconds = wall_s() - t0;
    if (rc != CURLE_OK) {
        snprintf(res->error, sizeof res->error, "%s", curl_easy_strerror(rc));
        res->retry = true;
    } else if (res->http_status >= 200 && res->http_status < 300) {
        res->delivered = true;
    } else {
        snprintf(res->error, sizeof res->error, "the receiver answered HTTP %ld", res->http_status);
        /* 408, 429 and 5xx say "later"; any other answer will not change by retrying */
        res->retry = res->http_status == 408 || res->http_status == 429 || res->http_status >= 500;
    }
    curl_slist_free_all(headers);
    curl_slist_free_all(resolve);
    curl_easy_cleanup(h);
}

int64_t srv_webhook_retry_delay_s(int attempt) {
    /* a restart (30 s), a deploy (2, 10 min), an outage (1, 4 h): ~5 h in all */
    static const int64_t delay[SRV_WEBHOOK_ATTEMPTS] = {0, 30, 120, 600, 3600, 14400};
    return attempt >= 1 && attempt < SRV_WEBHOOK_ATTEMPTS ? delay[attempt] : -1;
}

/* ---------------------------------------------------------------------------------------- */
/* Deliveries */

/* Adds the delivery of `event` about `target` with the JSON body `doc` (consumed). */
static void add_delivery(srv_jobs *jobs, const char *target, const char *event, const char *url,
                         const char *secret, cJSON *doc) {
    struct srv_delivery d;
    memset(&d, 0, sizeof d);
    snprintf(d.target, sizeof d.target, "%s", target);
    snprintf(d.event, sizeof d.event, "%s", event);
    snprintf(d.url, sizeof d.url, "%s", url);
    snprintf(d.secret, sizeof d.secret, "%s", secret);
    char *body = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!body || srv_jobs_delivery_add(jobs, &d, body, (int64_t)time(NULL)) < 0)
        fprintf(stderr, "dumu: cannot record the %s webhook of %s\n", event, target);
    free(body);
}

/* `job` of batch `job->batch_id` ended: the batch's delivery once all of its jobs have. */
static void batch_job_ended(srv_jobs *jobs, const struct srv_job *job) {
    struct srv_batch b;
    int rc = srv_jobs_batch_get(jobs, job->batch_id, &b);
    if (rc < 0) fprintf(stderr, "dumu: cannot read batch %s for its webhook\n", job->batch_id);
    if (rc != 1 || !b.webhook_url[0]) return;
    /* one more than a batch holds: a cancelled job, whose row is gone, is added back */
    struct srv_job *list = malloc((SRV_BATCH_MAX + 1) * sizeof *list);
    int n = list ? srv_jobs_batch_jobs(jobs, job->batch_id, list) : -1;
    if (n < 0) {
        fprintf(stderr, "dumu: cannot list batch %s for its webhook\n", job->batch_id);
        free(list);
        return;
    }
    if (job->state == SRV_CANCELLED) { /* in its place by age, after its elders and peers */
        int i = n++;
        for (; i > 0 && list[i - 1].created > job->created; i--)
            list[i] = list[i - 1];
        list[i] = *job;
    }
    if (srv_batch_ended(list, n)) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "event", "batch.done");
        cJSON_AddItemToObject(doc, "batch", srv_batch_doc(&b, list, n, NULL));
        add_delivery(jobs, b.id, "batch.done", b.webhook_url, b.webhook_secret, doc);
    }
    free(list);
}

void srv_webhook_job_ended(srv_jobs *jobs, const struct srv_job *job) {
    if (job->webhook_url[0] && (job->state == SRV_DONE || job->state == SRV_FAILED)) {
        const char *event = job->state == SRV_DONE ? "job.done" : "job.failed";
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "event", event);
        cJSON_AddItemToObject(doc, "job", srv_job_doc(job));
        add_delivery(jobs, job->id, event, job->webhook_url, job->webhook_secret, doc);
    }
    if (job->batch_id[0]) batch_job_ended(jobs, job);
}

cJSON *srv_webhook_doc(srv_jobs *jobs, const char *target, const char *url) {
    static const char *const states[] = {"pending", "delivered", "failed"};
    if (!url[0]) return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "url", url);
    cJSON *arr = cJSON_AddArrayToObject(o, "deliveries");
    struct srv_delivery d[SRV_WEBHOOK_EVENTS_MAX];
    int n = srv_jobs_delivery_list(jobs, target, d, SRV_WEBHOOK_EVENTS_MAX);
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "id", (double)d[i].id);
        cJSON_AddStringToObject(e, "event", d[i].event);
        cJSON_AddStringToObject(e, "state", states[d[i].state]);
        cJSON_AddNumberToObject(e, "attempts", d[i].attempts);
        if (d[i].last_status)
            cJSON_AddNumberToObject(e, "last_status", d[i].last_status);
        else
            cJSON_AddNullToObject(e, "last_status");
        if (d[i].last_error[0])
            cJSON_AddStringToObject(e, "last_error", d[i].last_error);
        else
            cJSON_AddNullToObject(e, "last_error");
        cJSON_AddNumberToObject(e, "created", (double)d[i].created);
        cJSON_AddNumberToObject(e, "updated", (double)d[i].updated);
        if (d[i].state == SRV_DELIVERY_PENDING)
            cJSON_AddNumberToObject(e, "next_attempt", (double)d[i].next_at);
        else
            cJSON_AddNullToObject(e, "next_attempt");
        cJSON_AddItemToArray(arr, e);
    }
    return o;
}

/* ---------------------------------------------------------------------------------------- */
/* The sender */

struct srv_webhook_sender {
    srv_jobs *jobs;
    bool allow_private;
    atomic_int stop;    /* set by srv_webhook_sender_stop; also aborts a call in flight */
    pthread_mutex_t mu; /* with cv: the idle wait, cut short by the stop */
    pthread_cond_t cv;
    pthread_t thread;
};

/* Claims one due delivery, calls its receiver and records the attempt. 1 when one was due,
 * 0 when none was, -1 when the store cannot be read. */
static int send_one(srv_webhook_sender *s) {
    struct srv_delivery d;
    char *body = NULL;
    int rc = srv_jobs_delivery_claim(s->jobs, (int64_t)time(NULL), SRV_WEBHOOK_LEASE_S, &d, &body);
    if (rc != 1) return rc;
    srv_webhook_target t;
    srv_webhook_result res;
    memset(&res, 0, sizeof res);
    bool later;
    /* again at every attempt: what the name resolves to may have changed since the upload */
    if (check_url(d.url, s->allow_private, &t, res.error, sizeof res.error, &later)) {
        res.retry = later;
    } else {
        char id[24], sig[SRV_WEBHOOK_SIG_MAX];
        snprintf(id, sizeof id, "%lld", (long long)d.id);
        srv_webhook_sign(d.secret, (int64_t)time(NULL), body, strlen(body), sig);
        srv_webhook_post(&t, d.event, id, sig, body, strlen(body), &s->stop, &res);
    }
    free(body);
    if (!res.delivered && atomic_load(&s->stop)) return 1; /* cut short: the lease brings it back */
    int64_t now = (int64_t)time(NULL);
    d.attempts++;
    d.last_status = (int)res.http_status;
    snprintf(d.last_error, sizeof d.last_error, "%.*s", (int)sizeof d.last_error - 1, res.error);
    int64_t delay = srv_webhook_retry_delay_s(d.attempts);
    if (res.delivered)
        d.state = SRV_DELIVERY_DELIVERED;
    else if (!res.retry || delay < 0)
        d.state = SRV_DELIVERY_FAILED;
    else
        d.next_at = now + delay;
    if (srv_jobs_delivery_update(s->jobs, &d, now))
        fprintf(stderr, "dumu serve: cannot record webhook delivery %lld\n", (long long)d.id);
    if (d.state == SRV_DELIVERY_DELIVERED)
        fprintf(stderr, "dumu serve: webhook %s of %s delivered (HTTP %ld, %.2f s)\n", d.event,
                d.target, res.http_status, res.seconds);
    else if (d.state == SRV_DELIVERY_FAILED)
        fprintf(stderr, "dumu serve: webhook %s of %s failed after %d attempt%s: %s\n", d.event,
                d.target, d.attempts, d.attempts == 1 ? "" : "s", res.error);
    else
        fprintf(stderr, "dumu serve: webhook %s of %s: %s; again in %lld s\n", d.event, d.target,
                res.error, (long long)delay);
    return 1;
}

static void *sender_main(void *arg) {
    srv_webhook_sender *s = arg;
    while (!atomic_load(&s->stop)) {
        if (send_one(s) == 1) continue; /* perhaps more are due */
        /* idle or the store away: look again in a second (a job's end is told within one) */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_mutex_lock(&s->mu);
        if (!atomic_load(&s->stop)) pthread_cond_timedwait(&s->cv, &s->mu, &until);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

int srv_webhook_sender_start(srv_jobs *jobs, bool allow_private, srv_webhook_sender **out) {
    srv_webhook_sender *s = calloc(1, sizeof *s);
    if (!s) return -1;
    s->jobs = jobs;
    s->allow_private = allow_private;
    atomic_init(&s->stop, 0);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, sender_main, s)) {
        fprintf(stderr, "dumu serve: cannot start the webhook sender\n");
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void srv_webhook_sender_stop(srv_webhook_sender *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->stop, 1);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
