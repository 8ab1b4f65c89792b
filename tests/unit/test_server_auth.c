/* The credentials of `dumu serve --auth` (app/server/auth.c and the header parsers of
 * params.c, compiled in): modes, Argon2id passwords, tokens and their hashes, the Bearer and
 * Cookie headers, e-mail shapes. The HTTP side runs in tests/scripts/test_auth.sh. */
#include <string.h>

#include "../../app/server/auth.c"
#include "../../app/server/params.c"
#include "testutil.h"

static void test_modes(void **state) {
    (void)state;
    enum srv_auth_mode m = SRV_AUTH_REQUIRED;
    assert_string_equal(srv_auth_mode_list(), "off|optional|required");
    for (int i = 0; i < SRV_AUTH_N_MODES; i++) {
        assert_int_equal(srv_auth_mode_parse(srv_auth_mode_name((enum srv_auth_mode)i), &m), 0);
        assert_int_equal(m, i);
    }
    assert_int_equal(srv_auth_mode_parse("Required", &m), -1);
    assert_int_equal(srv_auth_mode_parse("", &m), -1);
    assert_string_equal(srv_auth_mode_name(SRV_AUTH_DEFAULT), "off");
}

static void test_passwords(void **state) {
    (void)state;
    char hash[SRV_PWHASH_LEN], again[SRV_PWHASH_LEN];
    assert_int_equal(srv_password_hash("correct horse battery", hash), 0);
    assert_true(strncmp(hash, "$argon2id$", 10) == 0);
    assert_int_equal(srv_password_verify(hash, "correct horse battery"), 0);
    assert_int_equal(srv_password_verify(hash, "correct horse batterY"), -1);
    assert_int_equal(srv_password_verify(hash, ""), -1);
    /* salted: the same password hashes differently */
    assert_int_equal(srv_password_hash("correct horse battery", again), 0);
    assert_string_not_equal(hash, again);
    /* no account: always no */
    assert_int_equal(srv_password_verify(NULL, "correct horse battery"), -1);
}

static void test_tokens(void **state) {
    (void)state;
    char a[SRV_TOKEN_LEN], b[SRV_TOKEN_LEN], h[SRV_HASH_LEN], id[37];
    srv_token_new("dumu_s_", a);
    srv_token_new("dumu_s_", b);
    assert_int_equal(strlen(a), 7 + 43);
    assert_true(strspn(a + 7, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
                43);
    assert_string_not_equal(a, b);
    srv_hash_hex("abc", h); /* FIPS 180-2 appendix B.1 */
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_true(srv_secret_equal(a, a));
    assert_false(srv_secret_equal(a, b));
    assert_false(srv_secret_equal("abc", "abcd"));
    srv_uuid_new(id);
    assert_true(srv_id_valid(id));
}

static void test_bearer(void **state) {
    (void)state;
    char out[64];
    assert_int_equal(srv_parse_bearer("Bearer dumu_k_abc-_.~+/==", out, sizeof out), 0);
    assert_string_equal(out, "dumu_k_abc-_.~+/==");
    assert_int_equal(srv_parse_bearer("bearer   tok", out, sizeof out), 0);
    assert_string_equal(out, "tok");
    assert_int_equal(srv_parse_bearer(NULL, out, sizeof out), -1);
    assert_int_equal(srv_parse_bearer("Basic YTpi", out, sizeof out), -1);
    assert_int_equal(srv_parse_bearer("Bearer", out, sizeof out), -1);
    assert_int_equal(srv_parse_bearer("Bearer ", out, sizeof out), -1);
    assert_int_equal(srv_parse_bearer("Bearertok", out, sizeof out), -1);
    assert_int_equal(srv_parse_bearer("Bearer a b", out, sizeof out), -1);
    assert_int_equal(srv_parse_bearer("Bearer a=b", out, sizeof out), -1);
    assert_int_equal(srv_parse_bearer("Bearer abcd", out, 4), -1); /* does not fit */
    assert_int_equal(srv_parse_bearer("Bearer abc", out, 4), 0);
}

static void test_cookies(void **state) {
    (void)state;
    char out[64];
    const char *h = "theme=dark; dumu_session=dumu_s_x1; dumu_anon=\"dumu_a_y2\"";
    assert_int_equal(srv_cookie_get(h, "dumu_session", out, sizeof out), 0);
    assert_string_equal(out, "dumu_s_x1");
    assert_int_equal(srv_cookie_get(h, "dumu_anon", out, sizeof out), 0);
    assert_string_equal(out, "dumu_a_y2");
    assert_int_equal(srv_cookie_get(h, "theme", out, sizeof out), 0);
    assert_string_equal(out, "dark");
    assert_int_equal(srv_cookie_get(h, "dumu", out, sizeof out), -1); /* a prefix is no name */
    assert_int_equal(srv_cookie_get("xdumu_session=1", "dumu_session", out, sizeof out), -1);
    assert_int_equal(srv_cookie_get(NULL, "dumu_session", out, sizeof out), -1);
    assert_int_equal(srv_cookie_get("dumu_session=", "dumu_session", out, sizeof out), -1);
    assert_int_equal(srv_cookie_get("dumu_session=a b", "dumu_session", out, sizeof out), -1);
    assert_int_equal(srv_cookie_get("dumu_session=abcd", "dumu_session", out, 4), -1);
    /* the first of two */
    assert_int_equal(srv_cookie_get("dumu_session=1;dumu_session=2", "dumu_session", out, 8), 0);
    assert_string_equal(out, "1");
}

static void test_emails(void **state) {
    (void)state;
    assert_true(srv_email_valid("alice@example.org"));
    assert_true(srv_email_valid("a.b+tag@mail.example-host.co"));
    assert_false(srv_email_valid("alice"));
    assert_false(srv_email_valid("@example.org"));
    assert_false(srv_email_valid("alice@localhost")); /* no dot */
    assert_false(srv_email_valid("alice@@example.org"));
    assert_false(srv_email_valid("a b@example.org"));
    assert_false(srv_email_valid("alice@-example.org"));
    assert_false(srv_email_valid("alice@example-.org"));
    assert_false(srv_email_valid("alice@example..org"));
    assert_false(srv_email_valid("alice@example.org."));
    char long_local[80];
    memset(long_local, 'a', 65);
    strcpy(long_local + 65, "@example.org");
    assert_false(srv_email_valid(long_local)); /* 65 bytes before the @ */
    long_local[1] = '@';
    long_local[2] = '\0';
    assert_false(srv_email_valid(long_local));
}

int main(void) {
    if (srv_auth_init()) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes),   cmocka_unit_test(test_passwords),
        cmocka_unit_test(test_tokens),  cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_cookies), cmocka_unit_test(test_emails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
