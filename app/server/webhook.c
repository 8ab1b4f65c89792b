/* webhook.c - checking webhook URLs, signing and posting deliveries (see webhook.h). */
#define _DEFAULT_SOURCE /* getaddrinfo, strncasecmp */
#include "webhook.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dumu/dumu.h"

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

int srv_webhook_check(const char *url, bool allow_private, srv_webhook_target *t, char *why,
                      size_t why_len) {
    memset(t, 0, sizeof *t);
    size_t path_at;
    if (parse_url(url, t, &path_at, why, why_len)) return -1;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)t->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(t->host, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(why, why_len, "webhook_url's host %s does not resolve (%s)", t->host,
                 gai_strerror(rc));
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

/* ---------------------------------------------------------------------------------------- */
/* Signing and posting */

void srv_webhook_sign(const uint8_t key[SRV_WEBHOOK_KEY_BYTES], int64_t timestamp, const char *body,
                      size_t body_len, char out[SRV_WEBHOOK_SIG_MAX]) {
    char prefix[32];
    int np = snprintf(prefix, sizeof prefix, "%lld.", (long long)timestamp);
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, key, SRV_WEBHOOK_KEY_BYTES);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)prefix, (unsigned long long)np);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[2 * crypto_auth_hmacsha256_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    snprintf(out, SRV_WEBHOOK_SIG_MAX, "t=%lld,v1=%s", (long long)timestamp, hex);
}

void srv_webhook_new_secret(char out[2 * SRV_WEBHOOK_KEY_BYTES + 1]) {
    uint8_t key[SRV_WEBHOOK_KEY_BYTES];
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(out, 2 * SRV_WEBHOOK_KEY_BYTES + 1, key, sizeof key);
}

int srv_webhook_global_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK && sodium_init() >= 0 ? 0 : -1;
}

static size_t drop_body(char *data, size_t size, size_t count, void *user) {
    (void)data;
    (void)user;
    return size * count;
}

static double wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void srv_webhook_post(const srv_webhook_target *t, const char *event, const char *delivery_id,
                      const char *signature, const char *body, size_t body_len,
                      srv_webhook_result *res) {
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
