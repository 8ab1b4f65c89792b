/* audio.c - decode audio files into dumu_audio (float32, interleaved), change its channel
 * count and sample rate, and write it back out as WAV or FLAC.
 *
 * DESIGN
 *     Decoding is libsndfile 1.2 (WAV PCM 8/16/24/32 and float, FLAC, Ogg Vorbis and Opus,
 *     MP3 through mpg123), always over bytes in memory: dumu_audio_decode_memory wraps the
 *     caller's buffer in an SF_VIRTUAL_IO, and dumu_audio_decode_file maps the file (or reads
 *     a pipe) and takes the same path, so the fuzzer covers both.
 *
 *     libsndfile 1.2.0 alone is too trusting for untrusted input: it guesses among ~25
 *     formats, quietly shortens a cut WAV, loses the length of an Ogg stream with junk after
 *     it, leaks its decoder state when Vorbis headers are broken, and cuts an MP3 without a
 *     length header at mpg123's estimate. So dumu_audio_probe_bytes reads the bytes itself
 *     first, hands libsndfile only the four families we support, and learns what the headers
 *     promise (the WAV data chunk size, whether an MP3 carries a Xing/Info/VBRI length, where
 *     the last whole Ogg page ends, whether the Vorbis headers are whole and CRC-valid).
 *     Sniffing is our own code, so the error class (DUMU_E_FORMAT, _UNSUPPORTED, _TRUNCATED)
 *     never depends on libsndfile's global error variable, which threads share.
 *
 *     Samples are read CHUNK_FRAMES at a time into a scratch buffer, cleaned of NaN/Inf, and
 *     mapped to the wanted channel count on the way into the output buffer, so a 6-channel
 *     file decoded to mono never holds all six channels in memory. The output buffer starts
 *     at the length the header promises, bounded by what the byte count makes plausible, and
 *     doubles as needed: a header that claims 2^40 frames allocates nothing near that. The
 *     sample rate changes last, in one libsoxr call over the whole signal.
 *
 * DECISIONS (each one tested in tests/unit/test_audio.c)
 *     - Containers: WAV (RIFF, RIFX, RF64), FLAC, Ogg (Vorbis, Opus, FLAC) and MPEG audio
 *       (MP3, and layers I/II, which mpg123 also decodes). Any other known container (AIFF,
 *       CAF, AU, Wave64, MP4/M4A, Matroska/WebM, ASF/WMA, ...) is DUMU_E_UNSUPPORTED; bytes we
 *       cannot place are DUMU_E_FORMAT, and so is an empty (0-byte) input. A WAV with a codec
 *       libsndfile lacks, or an Ogg stream of another codec (Speex, Theora, ...), is
 *       DUMU_E_UNSUPPORTED. Ogg Vorbis headers that are not whole, CRC-valid and in sequence
 *       are DUMU_E_FORMAT (decided before libsndfile, which leaks when it fails on them).
 *       A header cut before any audio (inside the first Ogg page, the WAV fmt chunk, ...) is
 *       DUMU_E_FORMAT: nothing recognisable was there.
 *     - Truncation (DUMU_E_TRUNCATED) where the file promises a length:
 *         WAV:  the data chunk declares at least one whole frame (nBlockAlign bytes) more than
 *               the file holds. A cut partial frame or a missing pad byte is accepted, and so
 *               is the size 0xFFFFFFFF that streaming writers leave (read to the end).
 *         FLAC: fewer samples decode than STREAMINFO's total (0 there = unknown, see below).
 *         Ogg:  a page after the first runs past the end of the data, or fewer samples
 *               decode than the last page's granule position says.
 *         MP3:  with a Xing/Info/VBRI header, more than one MPEG frame (1152 samples) fewer
 *               than it promises.
 *       Streams with no length (MP3 without such a header, FLAC with total 0) are decoded as
 *       far as they go: the decoders resync over garbage, and a cut at the end of such a
 *       stream cannot be told from its end. (For MP3 we hide the byte length from mpg123 so
 *       that libsndfile does not stop at mpg123's estimate, see decode_bytes.) An error after
 *       the promised length (an ID3v1 tag after FLAC frames, say) is not an error.
 *     - Empty: a header that promises 0 frames, a stream that decodes to none without a
 *       decoder error, or one so short that resampling leaves no frame, is DUMU_E_EMPTY; none
 *       with a decoder error is DUMU_E_FORMAT. Digital silence is valid audio.
 *     - Length: over params->max_duration_s is DUMU_E_TOO_LONG, checked against the header
 *       before allocating where the length is promised, and while decoding otherwise. The MP3
 *       length estimate of a stream without a length header is not used for this (for a VBR
 *       file it can be several times off).
 *     - Limits: a sample rate outside 1000..768000 Hz or more than 64 channels is
 *       DUMU_E_UNSUPPORTED.
 *     - Non-finite samples (a float WAV can hold NaN and Inf) become 0, at decode and again
 *       after resampling, so decoded audio is always finite. One NaN would otherwise poison
 *       every FFT and mean downstream; rejecting a long file for one bad sample seemed worse.
 *       Finite float samples beyond [-1, 1] are kept as they are.
 *     - Channels (params->n_channels): 0 keeps them; 1 is the arithmetic mean of all channels
 *       (summed in double); 2 duplicates mono, keeps stereo, and of 3 or more channels keeps
 *       front left and front right: channels 0 and 1 in WAV/FLAC/MP3 order, channels 0 and 2
 *       for Ogg streams of 3, 5, 6, 7 or 8 channels, whose Vorbis order puts the centre second
 *       (libsndfile does not reorder). Other values are DUMU_E_INVALID_ARG.
 *     - Resampling: libsoxr, SOXR_HQ (20-bit, linear phase, latency removed), float32
 *       interleaved, one thread; output length round(n * out / in) (halves up), which is what
 *       soxr_oneshot gives; we pad or cut to it so the rule holds exactly.
 *     - Writing: WAV PCM16/PCM24/float with a plain WAVE_FORMAT_PCM (1) or IEEE_FLOAT (3)
 *       fmt chunk for 1-2 channels, WAVE_FORMAT_EXTENSIBLE for 3 or more (the only way to
 *       carry a channel mask); no PEAK chunk (float files keep libsndfile's fact chunk and a
 *       PAD chunk where PEAK was planned: readers must walk the chunks); FLAC 16/24. Integer formats write NaN as 0 and
 *       clip to [-1, 1] (and libsndfile's clipping is on as well); float keeps every value.
 *       On any failure a regular output file we created is removed. The output must be
 *       seekable (headers are patched at the end).
 *     - params == NULL means dumu_decode_default_params().
 *
 * MEMORY
 *     Decode: one scratch chunk, the output buffer (grown with dumu_realloc, so not
 *     necessarily 64-byte aligned), and for a resample a second buffer that replaces it.
 *     libsndfile, mpg123, libvorbis and libsoxr allocate internally with malloc; that memory
 *     is theirs and freed before we return. A file is mapped with mmap for the call only; if
 *     another process truncates it meanwhile, reading the lost pages raises SIGBUS.
 *
 * THREADS
 *     No shared state of ours. libsndfile keeps its last open error in a global (read here
 *     only for message text), and mpg123 may print a warning to stderr on a malformed MP3; we
 *     cannot switch that off through libsndfile.
 *
 * REFERENCES
 *     Microsoft/IBM, "Multimedia Programming Interface and Data Specifications 1.0" (1991),
 *     RIFF WAVE chunks; Microsoft, "WAVEFORMATEXTENSIBLE"; EBU Tech 3306 (RF64); FLAC format
 *     specification (STREAMINFO); RFC 3533 (Ogg pages); Vorbis I specification section 4.3.9
 *     (channel order); ISO/IEC 11172-3 (MPEG audio frame header); the Xing/Info (LAME) and
 *     VBRI header layouts; libsndfile 1.2.0 API (sf_open_virtual; sf_readf_float never reads
 *     past SF_INFO.frames); libsoxr 0.1.3 (soxr_oneshot).
 */
#include "audio.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

#define CHUNK_FRAMES     4096              /* frames per libsndfile read / write */
#define MIN_CAPACITY     65536             /* first output buffer, frames, at least */
#define STREAM_MAX_BYTES ((size_t)1 << 30) /* largest non-regular file we read */
#define MPEG_FRAME_SLACK 1152              /* samples an MP3 length header may be off */

dumu_decode_params dumu_decode_default_params(void) {
    dumu_decode_params p = {.max_duration_s = 1800.0, .sample_rate = 0, .n_channels = 0};
    return p;
}

void dumu_audio_deinit(dumu_audio *audio) {
    if (!audio) return;
    dumu_free(audio->samples);
    memset(audio, 0, sizeof *audio);
}

/* strerror is not thread-safe; this is. */
static const char *errno_text(int e, char *buf, size_t size) {
    if (strerror_r(e, buf, size) != 0) snprintf(buf, size, "error %d", e);
    return buf;
}

/* ------------------------------------------------------------------------------------------ */
/* Sniffing */

static uint32_t rd_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t rd_u32be(const uint8_t *p) {
    return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

static uint32_t rd_u16(const uint8_t *p, bool be) {
    return be ? (uint32_t)p[0] << 8 | p[1] : (uint32_t)p[1] << 8 | p[0];
}

static bool has(const uint8_t *data, size_t size, size_t at, const char *magic, size_t len) {
    return at <= size && len <= size - at && memcmp(data + at, magic, len) == 0;
}

/* WAV format tags libsndfile 1.2 decodes (wav.c): PCM, MS ADPCM, IEEE float, A-law, mu-law,
 * IMA ADPCM, GSM 6.10, G.721, MPEG layer 3, NMS VBX ADPCM. */
static bool wav_tag_known(uint32_t tag) {
    static const uint16_t known[] = {0x0001, 0x0002, 0x0003, 0x0006, 0x0007,
                                     0x0011, 0x0031, 0x0038, 0x0040, 0x0055};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (tag == known[i]) return true;
    return false;
}

/* Walks the RIFF chunks after "RIFF" size "WAVE" for the fmt chunk (tag, block align) and the
 * data chunk (declared and present size). Chunk sizes are untrusted: all offsets are checked
 * against `size` in 64 bits. RF64 keeps its real sizes in a ds64 chunk: we leave it to
 * libsndfile and only read its fmt. */
static void probe_wav(const uint8_t *data, size_t size, bool be, bool rf64, dumu_audio_probe *p) {
    uint64_t pos = 12;
    p->codec_known = true;
    while (pos + 8 <= size) {
        const uint8_t *c = data + pos;
        uint64_t csize = be ? rd_u32be(c + 4) : rd_u32le(c + 4);
        if (memcmp(c, "fmt ", 4) == 0 && pos + 8 + 16 <= size) {
            p->wav_tag = rd_u16(c + 8, be);
            p->wav_block_align = rd_u16(c + 20, be);
            if (p->wav_tag == 0xFFFE && csize >= 40 && pos + 8 + 26 <= size)
                p->wav_tag = rd_u16(c + 8 + 24, be); /* first two bytes of the sub-format GUID */
            p->codec_known = wav_tag_known(p->wav_tag);
        } else if (memcmp(c, "data", 4) == 0) {
            p->wav_declared = csize;
            p->wav_present = size - (pos + 8);
            uint64_t frame = p->wav_block_align ? p->wav_block_align : 1;
            if (!rf64 && csize != 0xFFFFFFFFu && csize > p->wav_present &&
                csize - p->wav_present >= frame)
                p->truncated = true;
            return;
        }
        pos += 8 + csize + (csize & 1);
    }
}

/* Ogg page CRC: CRC-32, polynomial 0x04C11DB7, MSB first, initial value 0, no final XOR,
 * over the whole page with its CRC field (bytes 22..25) taken as zero (RFC 3533). */
static void ogg_crc_table(uint32_t table[256]) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t r = i << 24;
        for (int k = 0; k < 8; k++)
            r = (r & 0x80000000u) ? (r << 1) ^ 0x04C11DB7u : r << 1;
        table[i] = r;
    }
}

static uint32_t ogg_crc(const uint32_t table[256], const uint8_t *page, size_t len) {
    uint32_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = (i >= 22 && i < 26) ? 0 : page[i];
        crc = (crc << 8) ^ table[((crc >> 24) ^ b) & 0xFF];
    }
    return crc;
}

/* Length of the Ogg page at data[pos] (which holds "OggS"): 0 if it is no page (version,
 * CRC), SIZE_MAX if it runs past the end of the data. */
static size_t ogg_page_len(const uint8_t *data, size_t size, size_t pos,
                           const uint32_t table[256]) {
    const uint8_t *h = data + pos;
    size_t left = size - pos;
    if (left < 27 || left < 27 + (size_t)h[26]) return SIZE_MAX;
    if (h[4] != 0) return 0;
    size_t len = 27 + h[26];
    for (size_t i = 0; i < h[26]; i++)
        len += h[27 + i];
    if (len > left) return SIZE_MAX;
    return ogg_crc(table, h, len) == rd_u32le(h + 22) ? len : 0;
}

/* The Vorbis identification header (Vorbis I spec 4.2.2), checked as libvorbis checks it. */
static bool vorbis_id_ok(const uint8_t *b, size_t len) {
    if (len < 30 || memcmp(b, "\x01vorbis", 7) != 0) return false;
    uint32_t version = rd_u32le(b + 7), rate = rd_u32le(b + 12);
    unsigned bs0 = b[28] & 15, bs1 = b[28] >> 4;
    return version == 0 && b[11] >= 1 && rate >= 1 && bs0 >= 6 && bs1 >= bs0 && bs1 <= 13 &&
           (b[29] & 1);
}

/* Walks the Ogg pages (CRC-checked; junk between them is skipped as libogg skips it) and
 * records where the last whole page ends, whether a page runs past the end, the codec of the
 * first page's packet, and whether the headers are sound.
 *
 * libsndfile 1.2.0 leaks the decoder state (several KB) whenever it fails to read Vorbis
 * headers, so for Vorbis we accept only streams whose header reading cannot fail there: a
 * beginning-of-stream first page at offset 0 holding just the identification packet, a valid
 * identification header, and two more whole packets (comment, setup) in the pages of that
 * stream that follow, in sequence, with consistent continuation flags. */
static void probe_ogg(const uint8_t *data, size_t size, dumu_audio_probe *p) {
    uint32_t table[256];
    ogg_crc_table(table);
    size_t pos = 0;
    bool first = true, vorbis = false, in_packet = false, bad = false;
    uint32_t serial = 0, next_seq = 0;
    int packets = 0;
    p->name = "Ogg (unknown codec)";
    while (pos + 4 <= size) {
        if (memcmp(data + pos, "OggS", 4) != 0) {
            const uint8_t *o = memchr(data + pos + 1, 'O', size - pos - 1);
            pos = o ? (size_t)(o - data) : size;
            continue;
        }
        size_t len = ogg_page_len(data, size, pos, table);
        if (len == SIZE_MAX) {
            p->truncated = !first; /* cut before any whole page: not recognisable audio */
            break;
        }
        if (len == 0) {
            pos++;
            continue;
        }
        const uint8_t *h = data + pos;
        const size_t nseg = h[26];
        const uint8_t *lacing = h + 27;
        if (first) {
            size_t body = len - 27 - nseg;
            const uint8_t *b = h + 27 + nseg;
            if (body >= 7 && memcmp(b, "\x01vorbis", 7) == 0) {
                p->name = "Ogg Vorbis";
                p->codec_known = true;
                vorbis = true;
                /* Alone on its page: every lacing value 255 but the last. */
                bool one = nseg >= 1 && lacing[nseg - 1] < 255;
                for (size_t i = 0; i + 1 < nseg; i++)
                    one = one && lacing[i] == 255;
                bad = pos != 0 || !(h[5] & 0x02) || !one || !vorbis_id_ok(b, body);
                serial = rd_u32le(h + 14);
                next_seq = rd_u32le(h + 18) + 1;
                packets = 1;
            } else if (body >= 8 && memcmp(b, "OpusHead", 8) == 0) {
                p->name = "Ogg Opus";
                p->codec_known = true;
            } else if (body >= 5 && memcmp(b, "\177FLAC", 5) == 0) {
                p->name = "Ogg FLAC";
                p->codec_known = true;
            } else if (body >= 8 && memcmp(b, "Speex   ", 8) == 0) {
                p->name = "Ogg Speex";
            } else if (body >= 7 && memcmp(b, "\x80theora", 7) == 0) {
                p->name = "Ogg Theora";
            }
            first = false;
        } else if (vorbis && !bad && packets < 3 && rd_u32le(h + 14) == serial) {
            /* The comment and setup packets: sequence and continuation must line up. */
            bool continued = h[5] & 0x01;
            if (rd_u32le(h + 18) != next_seq || continued != in_packet || (h[5] & 0x02)) {
                bad = true;
            } else {
                next_seq++;
                for (size_t i = 0; i < nseg; i++)
                    if (lacing[i] < 255) packets++;
                if (nseg) in_packet = lacing[nseg - 1] == 255;
            }
        }
        pos += len;
        p->usable = pos;
    }
    p->ogg_headers_ok = !first && (!vorbis || (!bad && packets >= 3));
}

/* MPEG audio frame header at data[0..3]: sync, version, layer, bitrate and rate fields valid. */
static bool mpeg_header_ok(const uint8_t *h) {
    return h[0] == 0xFF && (h[1] & 0xE0) == 0xE0 && ((h[1] >> 3) & 3) != 1 &&
           ((h[1] >> 1) & 3) != 0 && (h[2] >> 4) != 15 && ((h[2] >> 2) & 3) != 3;
}

/* A Xing/Info header sits after the side information of the first layer III frame; a VBRI
 * header 32 bytes after the frame header. */
static bool mpeg_has_length_tag(const uint8_t *data, size_t size, size_t at) {
    const uint8_t *h = data + at;
    bool mpeg1 = ((h[1] >> 3) & 3) == 3, mono = (h[3] >> 6) == 3;
    if (((h[1] >> 1) & 3) != 1) return false; /* not layer III */
    size_t side = mpeg1 ? (mono ? 17 : 32) : (mono ? 9 : 17);
    return has(data, size, at + 4 + side, "Xing", 4) || has(data, size, at + 4 + side, "Info", 4) ||
           has(data, size, at + 36, "VBRI", 4);
}

void dumu_audio_probe_bytes(const uint8_t *data, size_t size, dumu_audio_probe *p) {
    memset(p, 0, sizeof *p);
    p->usable = size;
    if (size < 4) return;

    if ((has(data, size, 0, "RIFF", 4) || has(data, size, 0, "RIFX", 4) ||
         has(data, size, 0, "RF64", 4)) &&
        has(data, size, 8, "WAVE", 4)) {
        p->container = DUMU_CONTAINER_WAV;
        p->name = "WAV";
        probe_wav(data, size, data[3] == 'X', data[0] == 'R' && data[1] == 'F', p);
        return;
    }
    if (has(data, size, 0, "OggS", 4)) {
        p->container = DUMU_CONTAINER_OGG;
        p->usable = 0;
        probe_ogg(data, size, p);
        return;
    }

    /* ID3v2 tags (possibly several) in front of MP3 or FLAC: 10-byte header, syncsafe size,
     * a 10-byte footer when flag 0x10 is set. */
    size_t at = 0;
    for (int i = 0; i < 8 && has(data, size, at, "ID3", 3) && size - at >= 10; i++) {
        const uint8_t *t = data + at;
        if (t[3] < 2 || t[3] > 4 || ((t[6] | t[7] | t[8] | t[9]) & 0x80)) return;
        uint64_t len =
            10 +
            ((uint64_t)t[6] << 21 | (uint64_t)t[7] << 14 | (uint64_t)t[8] << 7 | (uint64_t)t[9]) +
            ((t[5] & 0x10) ? 10 : 0);
        if (len > size - at) return;
        at += (size_t)len;
    }
    if (has(data, size, at, "fLaC", 4)) {
        p->container = DUMU_CONTAINER_FLAC;
        p->name = "FLAC";
        p->codec_known = true;
        return;
    }
    if (size - at >= 4 && mpeg_header_ok(data + at)) {
        p->container = DUMU_CONTAINER_MPEG;
        p->name = ((data[at + 1] >> 1) & 3) == 1 ? "MP3" : "MPEG audio";
        p->codec_known = true;
        p->mpeg_length_tag = mpeg_has_length_tag(data, size, at);
        return;
    }
    if (at > 0) return; /* ID3 tags in front of something else */

    /* Known containers we do not decode. */
    static const struct {
        size_t at;
        const char *magic;
        size_t len;
        const char *name;
    } other[] = {
        {8, "AIFF", 4, "AIFF"},
        {8, "AIFC", 4, "AIFF-C"},
        {0, "caff", 4, "CAF"},
        {0, ".snd", 4, "Sun/NeXT AU"},
        {0, "riff", 4, "Wave64"},
        {0, "BW64", 4, "BW64"},
        {4, "ftyp", 4, "MP4/M4A"},
        {0, "\x1a\x45\xdf\xa3", 4, "Matroska/WebM"},
        {0, "\x30\x26\xb2\x75", 4, "ASF/WMA"},
        {0, "wvpk", 4, "WavPack"},
        {0, "MAC ", 4, "Monkey's Audio"},
        {0, "MThd", 4, "Standard MIDI File"},
        {0, "FORM", 4, "IFF"},
    };

    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        if (has(data, size, other[i].at, other[i].magic, other[i].len)) {
            p->container = DUMU_CONTAINER_OTHER;
            p->name = other[i].name;
            return;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* libsndfile over memory */

typedef struct mem_reader {
    const uint8_t *data;
    sf_count_t size, pos;
    bool no_seek_end; /* MPEG: hide the byte length from mpg123, see decode_bytes */
} mem_reader;

static sf_count_t mem_get_filelen(void *user) {
    return ((mem_reader *)user)->size;
}

static sf_count_t mem_seek(sf_count_t offset, int whence, void *user) {
    mem_reader *m = user;
    sf_count_t base;
    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = m->pos; break;
    case SEEK_END:
        if (m->no_seek_end) return -1;
        base = m->size;
        break;
    default: return -1;
    }
    if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0) return -1;
    m->pos = base + offset;
    return m->pos;
}

static sf_count_t mem_read(void *ptr, sf_count_t count, void *user) {
    mem_reader *m = user;
    if (count <= 0 || m->pos >= m->size) return 0;
    sf_count_t n = m->size - m->pos < count ? m->size - m->pos : count;
    memcpy(ptr, m->data + m->pos, (size_t)n);
    m->pos += n;
    return n;
}

static sf_count_t mem_tell(void *user) {
    return ((mem_reader *)user)->pos;
}

/* ------------------------------------------------------------------------------------------ */
/* Sample kernels */

/* Replaces NaN and +-Inf by 0 in x[0..n). */
static void zero_nonfinite(float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) x[i] = 0.0f;
}

/* (n, src_ch) -> (n, dst_ch), dst_ch being src_ch, 1 (mean of all channels, summed in double)
 * or 2 (mono duplicated, else channels 0 and `right`). */
static void map_channels(const float *src, int64_t n, int src_ch, int dst_ch, int right,
                         float *dst) {
    if (dst_ch == src_ch) {
        memcpy(dst, src, (size_t)n * (size_t)src_ch * sizeof *src);
    } else if (dst_ch == 1) {
        for (int64_t i = 0; i < n; i++) {
            const float *f = src + i * src_ch;
            double sum = 0.0;
            for (int c = 0; c < src_ch; c++)
                sum += (double)f[c];
            dst[i] = (float)(sum / src_ch);
        }
    } else if (src_ch == 1) {
        for (int64_t i = 0; i < n; i++)
            dst[2 * i] = dst[2 * i + 1] = src[i];
    } else {
        for (int64_t i = 0; i < n; i++) {
            dst[2 * i] = src[i * src_ch];
            dst[2 * i + 1] = src[i * src_ch + right];
        }
    }
}

int64_t dumu_audio_resampled_length(int64_t n, int32_t in_rate, int32_t out_rate) {
    if (n < 0 || in_rate < 1 || out_rate < 1) return -1;
    int64_t q = n / in_rate, r = n % in_rate;
    if (q > (INT64_MAX - out_rate) / out_rate) return -1;
    /* r < in_rate < 2^31 and out_rate < 2^31, so 2 * r * out_rate < 2^63. */
    return q * out_rate + (2 * r * out_rate + in_rate) / (2 * (int64_t)in_rate);
}

/* Resamples `n` frames of `ch` channels into a new buffer of dumu_audio_resampled_length
 * frames (*out, free with dumu_free). */
static dumu_status resample_samples(const float *in, int64_t n, int ch, int32_t in_rate,
                                    int32_t out_rate, float **out, int64_t *n_out,
                                    dumu_error *err) {
    *out = NULL;
    *n_out = 0;
    int64_t m = dumu_audio_resampled_length(n, in_rate, out_rate);
    size_t count, bytes;
    if (m < 0 || dumu_mul_size((size_t)m, (size_t)ch, &count) ||
        dumu_mul_size(count, sizeof(float), &bytes))
        return dumu_fail(err, DUMU_E_TOO_LONG, "resampling %lld frames to %d Hz overflows",
                         (long long)n, out_rate);
    float *buf = dumu_malloc(bytes);
    if (!buf) return dumu_fail(err, DUMU_E_NOMEM, "out of memory resampling to %d Hz", out_rate);
    size_t done = 0;
    if (n > 0 && m > 0) {
        soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
        soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
        soxr_runtime_spec_t rt = soxr_runtime_spec(1);
        size_t used = 0;
        soxr_error_t e = soxr_oneshot((double)in_rate, (double)out_rate, (unsigned)ch, in,
                                      (size_t)n, &used, buf, (size_t)m, &done, &io, &q, &rt);
        if (e) {
            dumu_free(buf);
            return dumu_fail(err, strstr(e, "alloc") ? DUMU_E_NOMEM : DUMU_E_INVALID_ARG,
                             "libsoxr: %s (%d -> %d Hz)", e, in_rate, out_rate);
        }
    }
    if (done < (size_t)m) memset(buf + done * (size_t)ch, 0, ((size_t)m - done) * (size_t)ch * 4);
    *out = buf;
    *n_out = m;
    return DUMU_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Decode */

static dumu_status check_params(const dumu_decode_params *p, dumu_error *err) {
    if (!(p->max_duration_s > 0.0))
        return dumu_fail(err, DUMU_E_INVALID_ARG, "max_duration_s must be > 0 (got %g)",
                         p->max_duration_s);
    if (p->sample_rate != 0 &&
        (p->sample_rate < DUMU_AUDIO_MIN_RATE || p->sample_rate > DUMU_AUDIO_MAX_RATE))
        return dumu_fail(err, DUMU_E_INVALID_ARG, "sample_rate %d Hz is outside %d..%d Hz",
                         p->sample_rate, DUMU_AUDIO_MIN_RATE, DUMU_AUDIO_MAX_RATE);
    if (p->n_channels < 0 || p->n_channels > 2)
        return dumu_fail(err, DUMU_E_INVALID_ARG, "n_channels must be 0, 1 or 2 (got %d)",
                         p->n_channels);
    return DUMU_OK;
}

static bool too_long(int64_t frames, int32_t rate, double max_s) {
    return (double)frames > max_s * (double)rate;
}

/* Does libsndfile's container agree with what we sniffed? */
static bool same_family(dumu_container c, int sf_format) {
    int major = sf_format & SF_FORMAT_TYPEMASK;
    switch (c) {
    case DUMU_CONTAINER_WAV:
        return major == SF_FORMAT_WAV || major == SF_FORMAT_WAVEX || major == SF_FORMAT_RF64;
    case DUMU_CONTAINER_FLAC: return major == SF_FORMAT_FLAC;
    case DUMU_CONTAINER_OGG: return major == SF_FORMAT_OGG || major == SF_FORMAT_FLAC;
    case DUMU_CONTAINER_MPEG: return major == SF_FORMAT_MPEG;
    default: return false;
    }
}

/* Makes room for `need` frames of `ch` channels in *buf (capacity *cap frames), doubling,
 * and not past `limit` frames when that is enough (limit 0: none). */
static int grow(float **buf, int64_t *cap, int64_t need, int64_t limit, int ch) {
    if (need <= *cap) return 0;
    int64_t c = *cap > need / 2 ? 2 * *cap : need;
    if (limit > 0 && c > limit && need <= limit) c = limit;
    size_t count, bytes;
    if (dumu_mul_size((size_t)c, (size_t)ch, &count) || dumu_mul_size(count, sizeof(float), &bytes))
        return -1;
    float *p = *buf ? dumu_realloc(*buf, bytes) : dumu_malloc(bytes);
    if (!p) return -1;
    *buf = p;
    *cap = c;
    return 0;
}

/* The whole decode of `size` bytes at `data`; `name` (a path, or "memory buffer") prefixes
 * every message. `out` is zeroed by the caller. */
static dumu_status decode_bytes(const uint8_t *data, size_t size, const char *name,
                                const dumu_decode_params *params, dumu_audio *out,
                                dumu_error *err) {
    dumu_audio_probe probe;
    dumu_audio_probe_bytes(data, size, &probe);
    if (size == 0) return dumu_fail(err, DUMU_E_FORMAT, "%s: empty input (0 bytes)", name);
    switch (probe.container) {
    case DUMU_CONTAINER_UNKNOWN:
        return dumu_fail(err, DUMU_E_FORMAT, "%s: not an audio file (or unsupported container)",
                         name);
    case DUMU_CONTAINER_OTHER:
        return dumu_fail(err, DUMU_E_UNSUPPORTED,
                         "%s: %s files are not supported (use WAV, FLAC, Ogg Vorbis or MP3)", name,
                         probe.name);
    default: break;
    }
    if (probe.container == DUMU_CONTAINER_WAV && probe.truncated)
        return dumu_fail(err, DUMU_E_TRUNCATED,
                         "%s: truncated WAV: the data chunk declares %llu bytes, %llu are present",
                         name, (unsigned long long)probe.wav_declared,
                         (unsigned long long)probe.wav_present);
    if (probe.container == DUMU_CONTAINER_OGG) {
        if (probe.truncated)
            return dumu_fail(err, DUMU_E_TRUNCATED, "%s: truncated %s: the last page is cut off",
                             name, probe.name);
        if (probe.usable == 0)
            return dumu_fail(err, DUMU_E_FORMAT, "%s: malformed Ogg file (no whole page)", name);
        if (!probe.codec_known)
            return dumu_fail(err, DUMU_E_UNSUPPORTED, "%s: %s is not supported", name, probe.name);
        if (!probe.ogg_headers_ok)
            return dumu_fail(err, DUMU_E_FORMAT, "%s: malformed %s headers", name, probe.name);
    }

    dumu_status rc = DUMU_OK;
    SNDFILE *snd = NULL;
    float *chunk = NULL, *buf = NULL;
    int64_t n = 0, cap = 0;

    /* libsndfile 1.2.0 stops reading an MP3 at mpg123's length, which for a stream without a
     * Xing/Info/VBRI header is an estimate from the first frame's bitrate (a VBR file can
     * lose most of its audio, a CBR file with a padded first frame its last fraction of a
     * second). mpg123 learns the byte length only by seeking to the end; when that fails it
     * reports no length and the stream decodes to its real end. A length header still gives
     * the exact, gapless length. */
    mem_reader mem = {data, (sf_count_t)probe.usable, 0, probe.container == DUMU_CONTAINER_MPEG};
    SF_VIRTUAL_IO vio = {mem_get_filelen, mem_seek, mem_read, NULL, mem_tell};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    snd = sf_open_virtual(&vio, SFM_READ, &info, &mem);
    if (!snd) {
        const char *why = sf_strerror(NULL);
        if (probe.container == DUMU_CONTAINER_WAV && !probe.codec_known)
            return dumu_fail(err, DUMU_E_UNSUPPORTED, "%s: WAV codec 0x%04x is not supported", name,
                             (unsigned)probe.wav_tag);
        return dumu_fail(err, DUMU_E_FORMAT, "%s: malformed %s file (libsndfile: %s)", name,
                         probe.name, why ? why : "unknown error");
    }
    if (!same_family(probe.container, info.format)) {
        rc =
            dumu_fail(err, DUMU_E_FORMAT, "%s: not an audio file (or unsupported container)", name);
        goto done;
    }
    if (info.channels < 1) {
        rc = dumu_fail(err, DUMU_E_FORMAT, "%s: malformed %s file (%d channels)", name, probe.name,
                       info.channels);
        goto done;
    }
    if (info.channels > DUMU_AUDIO_MAX_CHANNELS) {
        rc = dumu_fail(err, DUMU_E_UNSUPPORTED, "%s: %d channels (at most %d are supported)", name,
                       info.channels, DUMU_AUDIO_MAX_CHANNELS);
        goto done;
    }
    if (info.samplerate < DUMU_AUDIO_MIN_RATE || info.samplerate > DUMU_AUDIO_MAX_RATE) {
        rc = dumu_fail(err, DUMU_E_UNSUPPORTED, "%s: sample rate %d Hz is outside %d..%d Hz", name,
                       info.samplerate, DUMU_AUDIO_MIN_RATE, DUMU_AUDIO_MAX_RATE);
        goto done;
    }

    const int src_ch = info.channels, rate = info.samplerate;
    const int dst_ch = params->n_channels ? params->n_channels : src_ch;
    int right = 1;
    if (dst_ch == 2 && probe.container == DUMU_CONTAINER_OGG &&
        (src_ch == 3 || src_ch == 5 || src_ch == 6 || src_ch == 7 || src_ch == 8))
        right = 2;

    /* What the header promises. */
    const bool known = info.frames >= 0 && info.frames != SF_COUNT_MAX;
    const bool exact = known && (probe.container != DUMU_CONTAINER_MPEG || probe.mpeg_length_tag);
    const int64_t slack = probe.container == DUMU_CONTAINER_MPEG ? MPEG_FRAME_SLACK : 0;
    if (exact && info.frames == 0) {
        rc = dumu_fail(err, DUMU_E_EMPTY, "%s: no audio (0 frames)", name);
        goto done;
    }
    if (exact && too_long(info.frames, rate, params->max_duration_s)) {
        rc = dumu_fail(err, DUMU_E_TOO_LONG, "%s: %.1f s is longer than the maximum %.1f s", name,
                       (double)info.frames / rate, params->max_duration_s);
        goto done;
    }

    /* First capacity: the promised length, but no more than the bytes make plausible (16
     * frames per byte per channel would be a 64:1 ratio for 16-bit audio). */
    const size_t per_ch = size / (size_t)src_ch;
    int64_t plausible = per_ch < (size_t)(INT64_MAX / 16) ? (int64_t)per_ch * 16 : INT64_MAX;
    if (plausible < MIN_CAPACITY) plausible = MIN_CAPACITY;
    int64_t hint = known ? info.frames : (int64_t)rate * 10;
    if (hint < 1) hint = 1;
    const int64_t limit = exact ? info.frames : 0;
    if (grow(&buf, &cap, hint < plausible ? hint : plausible, limit, dst_ch)) goto nomem;

    size_t chunk_count;
    if (dumu_mul_size(CHUNK_FRAMES, (size_t)src_ch, &chunk_count)) goto nomem;
    chunk = dumu_malloc(chunk_count * sizeof *chunk);
    if (!chunk) goto nomem;

    for (;;) {
        sf_count_t got = sf_readf_float(snd, chunk, CHUNK_FRAMES);
        if (got <= 0) break;
        if (got > CHUNK_FRAMES) got = CHUNK_FRAMES; /* never, by the API */
        if (too_long(n + got, rate, params->max_duration_s)) {
            rc = dumu_fail(err, DUMU_E_TOO_LONG, "%s: longer than the maximum %.1f s", name,
                           params->max_duration_s);
            goto done;
        }
        if (grow(&buf, &cap, n + got, limit, dst_ch)) goto nomem;
        zero_nonfinite(chunk, (size_t)got * (size_t)src_ch);
        map_channels(chunk, got, src_ch, dst_ch, right, buf + n * dst_ch);
        n += got;
    }

    if (exact && n + slack < info.frames) {
        const char *why = sf_error(snd) ? sf_strerror(snd) : "the data ends early";
        rc = dumu_fail(err, DUMU_E_TRUNCATED, "%s: truncated %s: %lld of %lld frames decode (%s)",
                       name, probe.name, (long long)n, (long long)info.frames, why);
        goto done;
    }
    if (n == 0) {
        if (sf_error(snd))
            rc = dumu_fail(err, DUMU_E_FORMAT, "%s: no decodable audio in %s file (%s)", name,
                           probe.name, sf_strerror(snd));
        else
            rc = dumu_fail(err, DUMU_E_EMPTY, "%s: no audio (0 frames)", name);
        goto done;
    }
    sf_close(snd);
    snd = NULL;
    dumu_free(chunk);
    chunk = NULL;

    if (params->sample_rate && params->sample_rate != rate) {
        float *res;
        int64_t m;
        rc = resample_samples(buf, n, dst_ch, rate, params->sample_rate, &res, &m, err);
        if (rc) goto done;
        dumu_free(buf);
        buf = res;
        n = cap = m;
        if (n == 0) { /* a few input frames at a much higher rate round to none */
            rc = dumu_fail(err, DUMU_E_EMPTY, "%s: no audio left at %d Hz", name,
                           params->sample_rate);
            goto done;
        }
        zero_nonfinite(buf, (size_t)n * (size_t)dst_ch);
    } else if (cap - n > cap / 8 + MIN_CAPACITY) {
        /* Give back what a length estimate over-allocated; failing to is harmless. */
        float *p = dumu_realloc(buf, (size_t)n * (size_t)dst_ch * sizeof *buf);
        if (p) buf = p;
    }
    out->samples = buf;
    out->n_frames = n;
    out->n_channels = dst_ch;
    out->sample_rate = params->sample_rate ? params->sample_rate : rate;
    return DUMU_OK;

nomem:
    rc = dumu_fail(err, DUMU_E_NOMEM, "%s: out of memory decoding %s", name, probe.name);
done:
    if (snd) sf_close(snd);
    dumu_free(chunk);
    dumu_free(buf);
    return rc;
}

dumu_status dumu_audio_decode_memory(const void *data, size_t size,
                                     const dumu_decode_params *params, dumu_audio *out,
                                     dumu_error *err) {
    if (!out) return dumu_fail(err, DUMU_E_INVALID_ARG, "out is NULL");
    memset(out, 0, sizeof *out);
    if (!data && size) return dumu_fail(err, DUMU_E_INVALID_ARG, "data is NULL");
    dumu_decode_params defaults = dumu_decode_default_params();
    if (!params) params = &defaults;
    dumu_status rc = check_params(params, err);
    if (rc) return rc;
    return decode_bytes(data, size, "memory buffer", params, out, err);
}

/* Reads a pipe or device to its end into a new buffer (*data, free with dumu_free). */
static dumu_status read_stream(int fd, const char *path, uint8_t **data, size_t *size,
                               dumu_error *err) {
    size_t cap = 0, len = 0;
    uint8_t *buf = NULL;
    char ebuf[128];
    for (;;) {
        if (len == cap) {
            if (cap >= STREAM_MAX_BYTES) {
                dumu_free(buf);
                return dumu_fail(err, DUMU_E_TOO_LONG, "%s: more than %zu bytes", path,
                                 STREAM_MAX_BYTES);
            }
            size_t c = cap ? 2 * cap : 65536;
            uint8_t *p = dumu_realloc(buf, c);
            if (!p) {
                dumu_free(buf);
                return dumu_fail(err, DUMU_E_NOMEM, "%s: out of memory reading", path);
            }
            buf = p;
            cap = c;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            dumu_free(buf);
            return dumu_fail(err, DUMU_E_IO, "cannot read %s: %s", path,
                             errno_text(e, ebuf, sizeof ebuf));
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    *data = buf;
    *size = len;
    return DUMU_OK;
}

dumu_status dumu_audio_decode_file(const char *path, const dumu_decode_params *params,
                                   dumu_audio *out, dumu_error *err) {
    if (!out) return dumu_fail(err, DUMU_E_INVALID_ARG, "out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return dumu_fail(err, DUMU_E_INVALID_ARG, "path is NULL");
    dumu_decode_params defaults = dumu_decode_default_params();
    if (!params) params = &defaults;
    dumu_status rc = check_params(params, err);
    if (rc) return rc;

    char ebuf[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return dumu_fail(err, DUMU_E_IO, "cannot open %s: %s", path,
                         errno_text(e, ebuf, sizeof ebuf));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return dumu_fail(err, DUMU_E_IO, "cannot stat %s: %s", path,
                         errno_text(e, ebuf, sizeof ebuf));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return dumu_fail(err, DUMU_E_IO, "cannot read %s: %s", path,
                         errno_text(EISDIR, ebuf, sizeof ebuf));
    }
    if (!S_ISREG(st.st_mode)) {
        uint8_t *data = NULL;
        size_t size = 0;
        rc = read_stream(fd, path, &data, &size, err);
        close(fd);
        if (rc) return rc;
        rc = decode_bytes(data, size, path, params, out, err);
        dumu_free(data);
        return rc;
    }
    if (st.st_size == 0) {
        close(fd);
        return decode_bytes(NULL, 0, path, params, out, err);
    }
    if ((uintmax_t)st.st_size > SIZE_MAX) {
        close(fd);
        return dumu_fail(err, DUMU_E_TOO_LONG, "%s: too large to map", path);
    }
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED)
        return dumu_fail(err, DUMU_E_IO, "cannot map %s: %s", path,
                         errno_text(map_errno, ebuf, sizeof ebuf));
    posix_madvise(map, size, POSIX_MADV_SEQUENTIAL);
    rc = decode_bytes(map, size, path, params, out, err);
    munmap(map, size);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Resample, mono */

static dumu_status check_audio(const dumu_audio *a, dumu_error *err) {
    size_t count;
    if (!a) return dumu_fail(err, DUMU_E_INVALID_ARG, "audio is NULL");
    if (a->n_channels < 1 || a->n_channels > DUMU_AUDIO_MAX_CHANNELS)
        return dumu_fail(err, DUMU_E_INVALID_ARG, "n_channels %d is outside 1..%d", a->n_channels,
                         DUMU_AUDIO_MAX_CHANNELS);
    if (a->n_frames < 0 || (a->n_frames > 0 && !a->samples))
        return dumu_fail(err, DUMU_E_INVALID_ARG, "bad audio: %lld frames, samples %s",
                         (long long)a->n_frames, a->samples ? "set" : "NULL");
    if ((uint64_t)a->n_frames > SIZE_MAX ||
        dumu_mul_size((size_t)a->n_frames, (size_t)a->n_channels * sizeof(float), &count))
        return dumu_fail(err, DUMU_E_INVALID_ARG, "audio of %lld frames is too large",
                         (long long)a->n_frames);
    if (a->sample_rate < 1)
        return dumu_fail(err, DUMU_E_INVALID_ARG, "sample_rate %d Hz", a->sample_rate);
    return DUMU_OK;
}

dumu_status dumu_audio_resample(const dumu_audio *in, int32_t sample_rate, dumu_audio *out,
                                dumu_error *err) {
    if (!out || out == in)
        return dumu_fail(err, DUMU_E_INVALID_ARG, "out is NULL or the same as in");
    memset(out, 0, sizeof *out);
    dumu_status rc = check_audio(in, err);
    if (rc) return rc;
    if (in->sample_rate < DUMU_AUDIO_MIN_RATE || in->sample_rate > DUMU_AUDIO_MAX_RATE ||
        sample_rate < DUMU_AUDIO_MIN_RATE || sample_rate > DUMU_AUDIO_MAX_RATE)
        return dumu_fail(err, DUMU_E_INVALID_ARG, "resample %d -> %d Hz: rates must be %d..%d Hz",
                         in->sample_rate, sample_rate, DUMU_AUDIO_MIN_RATE, DUMU_AUDIO_MAX_RATE);
    float *buf;
    int64_t m;
    if (sample_rate == in->sample_rate) {
        size_t bytes = (size_t)in->n_frames * (size_t)in->n_channels * sizeof(float);
        buf = dumu_malloc(bytes);
        if (!buf) return dumu_fail(err, DUMU_E_NOMEM, "out of memory copying audio");
        if (bytes) memcpy(buf, in->samples, bytes);
        m = in->n_frames;
    } else {
        rc = resample_samples(in->samples, in->n_frames, in->n_channels, in->sample_rate,
                              sample_rate, &buf, &m, err);
        if (rc) return rc;
    }
    out->samples = buf;
    out->n_frames = m;
    out->n_channels = in->n_channels;
    out->sample_rate = sample_rate;
    return DUMU_OK;
}

dumu_status dumu_audio_to_mono(const dumu_audio *in, dumu_audio *out, dumu_error *err) {
    if (!out || out == in)
        return dumu_fail(err, DUMU_E_INVALID_ARG, "out is NULL or the same as in");
    memset(out, 0, sizeof *out);
    dumu_status rc = check_audio(in, err);
    if (rc) return rc;
    float *buf = dumu_malloc((size_t)in->n_frames * sizeof(float));
    if (!buf) return dumu_fail(err, DUMU_E_NOMEM, "out of memory mixing to mono");
    if (in->n_frames > 0) map_channels(in->samples, in->n_frames, in->n_channels, 1, 1, buf);
    out->samples = buf;
    out->n_frames = in->n_frames;
    out->n_channels = 1;
    out->sample_rate = in->sample_rate;
    return DUMU_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Write */

typedef struct fd_writer {
    int fd;
    int error; /* first errno seen, 0 if none */
} fd_writer;

static void fd_note(fd_writer *w) {
    if (!w->error) w->error = errno ? errno : EIO;
}

static sf_count_t fd_get_filelen(void *user) {
    fd_writer *w = user;
    struct stat st;
    if (fstat(w->fd, &st) != 0) {
        fd_note(w);
        return -1;
    }
    return (sf_count_t)st.st_size;
}

static sf_count_t fd_seek(sf_count_t offset, int whence, void *user) {
    fd_writer *w = user;
    off_t r = lseek(w->fd, (off_t)offset, whence);
    if (r < 0) fd_note(w);
    return (sf_count_t)r;
}

static sf_count_t fd_read(void *ptr, sf_count_t count, void *user) {
    fd_writer *w = user;
    ssize_t r;
    do
        r = read(w->fd, ptr, (size_t)count);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        fd_note(w);
        return 0;
    }
    return (sf_count_t)r;
}

static sf_count_t fd_write(const void *ptr, sf_count_t count, void *user) {
    fd_writer *w = user;
    const uint8_t *p = ptr;
    sf_count_t done = 0;
    while (done < count) {
        ssize_t r = write(w->fd, p + done, (size_t)(count - done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r == 0) errno = ENOSPC;
            fd_note(w);
            break;
        }
        done += r;
    }
    return done;
}

static sf_count_t fd_tell(void *user) {
    fd_writer *w = user;
    off_t r = lseek(w->fd, 0, SEEK_CUR);
    if (r < 0) fd_note(w);
    return (sf_count_t)r;
}

dumu_status dumu_audio_write_file(const char *path, const dumu_audio *audio,
                                  dumu_audio_format format, dumu_error *err) {
    if (!path || !*path) return dumu_fail(err, DUMU_E_INVALID_ARG, "path is NULL or empty");
    dumu_status rc = check_audio(audio, err);
    if (rc) return rc;
    int sf_format;
    const char *fname;
    bool integer = true;
    switch (format) {
    case DUMU_AUDIO_WAV_PCM16:
        sf_format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
        fname = "WAV PCM16";
        break;
    case DUMU_AUDIO_WAV_PCM24:
        sf_format = SF_FORMAT_WAV | SF_FORMAT_PCM_24;
        fname = "WAV PCM24";
        break;
    case DUMU_AUDIO_WAV_FLOAT:
        sf_format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
        fname = "WAV float";
        integer = false;
        break;
    case DUMU_AUDIO_FLAC_16:
        sf_format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
        fname = "FLAC 16";
        break;
    case DUMU_AUDIO_FLAC_24:
        sf_format = SF_FORMAT_FLAC | SF_FORMAT_PCM_24;
        fname = "FLAC 24";
        break;
    case DUMU_AUDIO_MP3:
        sf_format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
        fname = "MP3";
        break;
    default: return dumu_fail(err, DUMU_E_INVALID_ARG, "unknown audio format %d", (int)format);
    }
    /* MPEG audio has nine rates and one or two channels; anything else is refused here,
     * as libsndfile 1.2.0 leaks LAME's encoder when it refuses it at open */
    if (format == DUMU_AUDIO_MP3) {
        static const int32_t rates[] = {8000,  11025, 12000, 16000, 22050,
                                        24000, 32000, 44100, 48000};
        bool ok = audio->n_channels <= 2;
        bool rate_ok = false;
        for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
            rate_ok |= audio->sample_rate == rates[i];
        if (!ok || !rate_ok)
            return dumu_fail(err, DUMU_E_UNSUPPORTED,
                             "cannot write %d channels at %d Hz as MP3 (1-2 channels, MPEG rates "
                             "8-48 kHz)",
                             audio->n_channels, audio->sample_rate);
    }
    /* Plain format tags (1, 3) for mono and stereo: readers that only know those tags are
     * common. More channels need WAVE_FORMAT_EXTENSIBLE for their speaker mask. */
    if ((sf_format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAV && audio->n_channels > 2)
        sf_format = (sf_format & ~SF_FORMAT_TYPEMASK) | SF_FORMAT_WAVEX;

    char ebuf[128];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        return dumu_fail(err, DUMU_E_IO, "cannot create %s: %s", path,
                         errno_text(e, ebuf, sizeof ebuf));
    }
    struct stat st;
    bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);

    fd_writer w = {fd, 0};
    SF_VIRTUAL_IO vio = {fd_get_filelen, fd_seek, fd_read, fd_write, fd_tell};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = audio->sample_rate;
    info.channels = audio->n_channels;
    info.format = sf_format;
    float *chunk = NULL;
    SNDFILE *snd = sf_open_virtual(&vio, SFM_WRITE, &info, &w);
    if (!snd) {
        if (w.error)
            rc = dumu_fail(err, DUMU_E_IO, "cannot write %s: %s", path,
                           errno_text(w.error, ebuf, sizeof ebuf));
        else
            rc = dumu_fail(err, DUMU_E_UNSUPPORTED, "cannot write %d channels at %d Hz as %s (%s)",
                           audio->n_channels, audio->sample_rate, fname, sf_strerror(NULL));
        goto done;
    }
    sf_command(snd, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);
    if (format == DUMU_AUDIO_MP3) {
        /* libsndfile hands LAME a VBR quality of 10 x the compression level: 0.4 is "-V 4",
         * 181 kbps on a 20 s htdemucs bass stem (xd01) against 232 kbps at "-V 2" */
        int mode = SF_BITRATE_MODE_VARIABLE;
        double level = 0.4;
        sf_command(snd, SFC_SET_BITRATE_MODE, &mode, sizeof mode);
        sf_command(snd, SFC_SET_COMPRESSION_LEVEL, &level, sizeof level);
    }
    if (integer) sf_command(snd, SFC_SET_CLIPPING, NULL, SF_TRUE);
    /* libsndfile writes a FLAC header with the first samples: with none, force it, so an
     * empty signal still gives a valid (0-sample) FLAC file rather than an empty one. */
    if (audio->n_frames == 0 && (sf_format & SF_FORMAT_TYPEMASK) == SF_FORMAT_FLAC)
        sf_command(snd, SFC_UPDATE_HEADER_NOW, NULL, 0);

    const int ch = audio->n_channels;
    int64_t written = 0;
    if (!integer) {
        if (audio->n_frames > 0) written = sf_writef_float(snd, audio->samples, audio->n_frames);
    } else {
        chunk = dumu_malloc((size_t)CHUNK_FRAMES * (size_t)ch * sizeof *chunk);
        if (!chunk) {
            rc = dumu_fail(err, DUMU_E_NOMEM, "out of memory writing %s", path);
            goto done;
        }
        while (written < audio->n_frames) {
            int64_t k =
                audio->n_frames - written < CHUNK_FRAMES ? audio->n_frames - written : CHUNK_FRAMES;
            const float *src = audio->samples + written * ch;
            for (int64_t i = 0; i < k * ch; i++) {
                float x = src[i];
                chunk[i] = isnan(x) ? 0.0f : x > 1.0f ? 1.0f : x < -1.0f ? -1.0f : x;
            }
            sf_count_t got = sf_writef_float(snd, chunk, k);
            written += got > 0 ? got : 0;
            if (got != k) break;
        }
    }
    if (written != audio->n_frames || w.error) {
        if (w.error)
            rc = dumu_fail(err, DUMU_E_IO, "cannot write %s: %s", path,
                           errno_text(w.error, ebuf, sizeof ebuf));
        else
            rc = dumu_fail(err, DUMU_E_IO, "cannot write %s: %s", path, sf_strerror(snd));
        goto done;
    }
    int close_rc = sf_close(snd);
    snd = NULL;
    if (close_rc != 0 || w.error) {
        rc =
            dumu_fail(err, DUMU_E_IO, "cannot write %s: %s", path,
                      w.error ? errno_text(w.error, ebuf, sizeof ebuf) : sf_error_number(close_rc));
        goto done;
    }
    if (close(fd) != 0) {
        int e = errno;
        fd = -1;
        rc = dumu_fail(err, DUMU_E_IO, "cannot write %s: %s", path,
                       errno_text(e, ebuf, sizeof ebuf));
        goto done;
    }
    fd = -1;

done:
    if (snd) sf_close(snd);
    dumu_free(chunk);
    if (fd >= 0) close(fd);
    if (rc && regular) unlink(path); /* never a device or FIFO we were pointed at */
    return rc;
}
