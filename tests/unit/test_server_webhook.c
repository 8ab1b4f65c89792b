/* The webhook sender of `dumu serve` (app/server/webhook.c, compiled in directly): address
 * classes, URL checks, the signature, and real deliveries to a receiver on loopback. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../app/server/webhook.c"

static srv_addr_class class_of(const char *text) {
    struct sockaddr_storage ss = {0};
    if (strchr(text, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
    }
    return srv_webhook_addr_class((struct sockaddr *)&ss);
}

static void test_address_classes(void **state) {
    (void)state;

    static const struct {
        const char *addr;
        srv_addr_class want;
    } cases[] = {
        {"93.184.215.14", SRV_ADDR_PUBLIC},
        {"8.8.8.8", SRV_ADDR_PUBLIC},
        {"127.0.0.1", SRV_ADDR_PRIVATE},
        {"127.255.0.9", SRV_ADDR_PRIVATE},
        {"10.1.2.3", SRV_ADDR_PRIVATE},
        {"172.16.0.1", SRV_ADDR_PRIVATE},
        {"172.31.255.255", SRV_ADDR_PRIVATE},
        {"172.32.0.1", SRV_ADDR_PUBLIC},
        {"192.168.1.1", SRV_ADDR_PRIVATE},
        {"100.64.0.1", SRV_ADDR_PRIVATE},
        {"100.128.0.1", SRV_ADDR_PUBLIC},
        {"169.254.169.254", SRV_ADDR_PRIVATE},
        {"192.0.2.7", SRV_ADDR_PRIVATE},
        {"198.18.0.1", SRV_ADDR_PRIVATE},
        {"0.0.0.0", SRV_ADDR_FORBIDDEN},
        {"224.0.0.1", SRV_ADDR_FORBIDDEN},
        {"255.255.255.255", SRV_ADDR_FORBIDDEN},
        {"2606:4700::1111", SRV_ADDR_PUBLIC},
        {"::1", SRV_ADDR_PRIVATE},
        {"::", SRV_ADDR_FORBIDDEN},
        {"::ffff:127.0.0.1", SRV_ADDR_PRIVATE},
        {"::ffff:8.8.8.8", SRV_ADDR_PUBLIC},
        {"64:ff9b::10.0.0.1", SRV_ADDR_PRIVATE},
        {"2002:0a00:0001::1", SRV_ADDR_PRIVATE},
        {"fe80::1", SRV_ADDR_PRIVATE},
        {"fd12:3456::1", SRV_ADDR_PRIVATE},
        {"fc00::1", SRV_ADDR_PRIVATE},
        {"ff02::1", SRV_ADDR_FORBIDDEN},
        {"2001:db8::1", SRV_ADDR_PRIVATE},
        {"::7f00:1", SRV_ADDR_FORBIDDEN},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        srv_addr_class got = class_of(cases[i].addr);
        if (got != cases[i].want)
            fail_msg("%s: class %d, want %d", cases[i].addr, got, cases[i].want);
    }
}

static void test_url_checks(void **state) {
    (void)state;
    srv_webhook_target t;
    char why[256];
    static const char *bad[] = {
        "",
        "ftp://127.0.0.1/x",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "http://user:pw@127.0.0.1/",
        "http:///path",
        "http://127.0.0.1:0/",
        "http://127.0.0.1:65536/",
        "http://127.0.0.1:/",
        "http://127.0.0.1/a b",
        "http://127.0.0.1/#frag",
        "http://[::1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://[ff02::1]/",
        "http://no-such-host.invalid/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (srv_webhook_check(bad[i], true, &t, why, sizeof why) == 0)
            fail_msg("accepted %s", bad[i]);
        assert_true(why[0] != '\0');
    }
    /* loopback, private and link-local only when the operator allows them */
    static const char *private_urls[] = {
        "http://127.0.0.1:8080/hook",    "http://localhost/x", "http://[::1]:9/",
        "http://169.254.169.254/latest", "http://10.0.0.1/",   "HTTP://LocalHost:81/Path?q=1"};
    for (size_t i = 0; i < sizeof private_urls / sizeof private_urls[0]; i++) {
        assert_int_equal(srv_webhook_check(private_urls[i], false, &t, why, sizeof why), -1);
        assert_non_null(strstr(why, "--webhook-allow-private"));
        assert_int_equal(srv_webhook_check(private_urls[i], true, &t, why, sizeof why), 0);
    }
    assert_int_equal(srv_webhook_check("HTTP://LocalHost:81/Path?q=1", true, &t, why, sizeof why),
                     0);
    assert_string_equal(t.host, "localhost");
    assert_int_equal(t.port, 81);
    assert_false(t.https);
    assert_string_equal(t.url, "http://localhost:81/Path?q=1");
    assert_int_equal(srv_webhook_check("https://[::1]", true, &t, why, sizeof why), 0);
    assert_true(t.https);
    assert_int_equal(t.port, 443);
    assert_string_equal(t.addr, "::1");
    assert_string_equal(t.url, "https://[::1]:443/");
    char long_url[SRV_WEBHOOK_URL_MAX + 16];
    memset(long_url, 'a', sizeof long_url - 1);
    long_url[sizeof long_url - 1] = '\0';
    memcpy(long_url, "http://127.0.0.1/", 17);
    assert_int_equal(srv_webhook_check(long_url, true, &t, why, sizeof why), -1);
}

static void test_signature(void **state) {
    (void)state;
    /* HMAC-SHA256 over "<t>." + body, the value from Python's hmac module:
     * hmac.new(bytes(range(32)), b'1765000000.{"event":"job.finished"}', 'sha256') */
    uint8_t key[SRV_WEBHOOK_KEY_BYTES];
    for (int i = 0; i < SRV_WEBHOOK_KEY_BYTES; i++)
        key[i] = (uint8_t)i;
    const char *body = "{\"event\":\"job.finished\"}";
    char sig[SRV_WEBHOOK_SIG_MAX];
    srv_webhook_sign(key, 1765000000, body, strlen(body), sig);
    assert_string_equal(sig, "t=1765000000,v1="
                             "ac2a32646a3b4de533fed190a01f02b8ffa66cbe1f84a1f0bbf491fd40aedb09");
}

/* ---- a receiver on loopback ---------------------------------------------------------- */

typedef struct receiver {
    int fd, port, status; /* listening socket, its port, the answer's status */
    char request[8192];   /* what arrived */
    size_t got;
} receiver;

static void *receive_one(void *arg) {
    receiver *r = arg;
    int c = accept(r->fd, NULL, NULL);
    if (c < 0) return NULL;
    for (;;) { /* headers, then Content-Length bytes */
        ssize_t n = read(c, r->request + r->got, sizeof r->request - 1 - r->got);
        if (n <= 0) break;
        r->got += (size_t)n;
        r->request[r->got] = '\0';
        const char *end = strstr(r->request, "\r\n\r\n"),
                   *cl = strstr(r->request, "Content-Length: ");
        if (end && cl && r->got >= (size_t)(end + 4 - r->request) + (size_t)atoi(cl + 16)) break;
    }
    char answer[128];
    int n =
        snprintf(answer, sizeof answer, "HTTP/1.1 %d X\r\nContent-Length: 2\r\n\r\nok", r->status);
    (void)!write(c, answer, (size_t)n);
    close(c);
    return NULL;
}

static void start_receiver(receiver *r, int status, pthread_t *th) {
    memset(r, 0, sizeof *r);
    r->status = status;
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(r->fd, 1), 0);
    socklen_t len = sizeof a;
    getsockname(r->fd, (struct sockaddr *)&a, &len);
    r->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(th, NULL, receive_one, r), 0);
}

static void test_delivery(void **state) {
    (void)state;
    assert_int_equal(srv_webhook_global_init(), 0);
    uint8_t key[SRV_WEBHOOK_KEY_BYTES] = {7};
    const char *body = "{\"job_id\":\"abc\",\"status\":\"done\"}";
    char url[128], why[256], sig[SRV_WEBHOOK_SIG_MAX];
    srv_webhook_sign(key, 1765000001, body, strlen(body), sig);

    static const struct {
        int status;
        bool delivered, retry;
    } answers[] = {{204, true, false}, {500, false, true}, {429, false, true}, {404, false, false}};

    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
        receiver r;
        pthread_t th;
        start_receiver(&r, answers[i].status, &th);
        /* by name: the connection goes to the address checked, through the pin */
        snprintf(url, sizeof url, "http://localhost:%d/hooks/dumu?x=1", r.port);
        srv_webhook_target t;
        assert_int_equal(srv_webhook_check(url, true, &t, why, sizeof why), 0);
        srv_webhook_result res;
        srv_webhook_post(&t, "job.finished", "d-1", sig, body, strlen(body), &res);
        pthread_join(th, NULL);
        close(r.fd);
        assert_int_equal(res.http_status, answers[i].status);
        assert_int_equal(res.delivered, answers[i].delivered);
        assert_int_equal(res.retry, answers[i].retry);
        assert_non_null(strstr(r.request, "POST /hooks/dumu?x=1 HTTP/1.1\r\n"));
        assert_non_null(strstr(r.request, "Dumu-Event: job.finished\r\n"));
        assert_non_null(strstr(r.request, "Dumu-Delivery: d-1\r\n"));
        char line[160];
        snprintf(line, sizeof line, "Dumu-Signature: %s\r\n", sig);
        assert_non_null(strstr(r.request, line));
        assert_non_null(strstr(r.request, "Content-Type: application/json\r\n"));
        assert_non_null(strstr(r.request, body));
    }
    /* nobody listening: no answer, worth retrying */
    receiver r;
    pthread_t th;
    start_receiver(&r, 200, &th);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", r.port);
    srv_webhook_target t;
    assert_int_equal(srv_webhook_check(url, true, &t, why, sizeof why), 0);
    shutdown(r.fd, SHUT_RDWR);
    close(r.fd);
    pthread_join(th, NULL);
    srv_webhook_result res;
    srv_webhook_post(&t, "job.failed", "d-2", sig, body, strlen(body), &res);
    assert_false(res.delivered);
    assert_true(res.retry);
    assert_int_equal(res.http_status, 0);
    assert_true(res.error[0] != '\0');
}

static void test_retry_schedule(void **state) {
    (void)state;
    assert_int_equal(srv_webhook_retry_delay_s(0), -1);
    int64_t last = 0;
    for (int a = 1; a < SRV_WEBHOOK_ATTEMPTS; a++) {
        assert_true(srv_webhook_retry_delay_s(a) > last);
        last = srv_webhook_retry_delay_s(a);
    }
    assert_int_equal(srv_webhook_retry_delay_s(SRV_WEBHOOK_ATTEMPTS), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_classes), cmocka_unit_test(test_url_checks),
        cmocka_unit_test(test_signature),       cmocka_unit_test(test_delivery),
        cmocka_unit_test(test_retry_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
