// tokenizer_spm.cc - extern "C" shim over SentencePiece (spm_shim.h says what and why).
// The only C++ file of the project: no exception escapes it (SentencePiece reports through Status,
// allocation failures are caught), and it allocates its results with malloc for the C side.
#include "spm_shim.h"

#include <sentencepiece_processor.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

struct bv_spm {
    sentencepiece::SentencePieceProcessor proc;
};

extern "C" bv_spm *bv_spm_load(const char *path, char *err, size_t errcap) {
    try {
        bv_spm *s = new bv_spm;
        auto st = s->proc.Load(path);
        if (!st.ok()) {
            std::snprintf(err, errcap, "%s: not a SentencePiece model: %s", path, st.ToString().c_str());
            delete s;
            return nullptr;
        }
        return s;
    } catch (const std::exception &e) {
        std::snprintf(err, errcap, "%s: %s", path, e.what());
        return nullptr;
    }
}

extern "C" void bv_spm_free(bv_spm *s) { delete s; }

extern "C" int bv_spm_piece_count(const bv_spm *s) { return s->proc.GetPieceSize(); }

extern "C" int bv_spm_piece_to_id(const bv_spm *s, const char *piece) { return s->proc.PieceToId(piece); }

extern "C" int bv_spm_encode(const bv_spm *s, const char *text, size_t len, char ***pieces, int **ids, int *n,
                             char *err, size_t errcap) {
    *pieces = nullptr;
    *ids = nullptr;
    *n = 0;
    try {
        std::vector<std::string> out;
        auto st = s->proc.Encode(absl::string_view(text, len), &out);
        if (!st.ok()) {
            std::snprintf(err, errcap, "SentencePiece: %s", st.ToString().c_str());
            return -1;
        }
        size_t m = out.size();
        char **p = static_cast<char **>(std::calloc(m ? m : 1, sizeof(char *)));
        int *id = static_cast<int *>(std::calloc(m ? m : 1, sizeof(int)));
        if (!p || !id) throw std::bad_alloc();
        for (size_t i = 0; i < m; i++) {
            p[i] = static_cast<char *>(std::malloc(out[i].size() + 1));
            if (!p[i]) throw std::bad_alloc();
            std::memcpy(p[i], out[i].c_str(), out[i].size() + 1);
            id[i] = s->proc.PieceToId(out[i]);
        }
        *pieces = p;
        *ids = id;
        *n = static_cast<int>(m);
        return 0;
    } catch (const std::exception &e) {
        std::snprintf(err, errcap, "SentencePiece: %s", e.what());
        return -1;
    }
}

extern "C" void bv_spm_pieces_free(char **pieces, int *ids, int n) {
    if (pieces)
        for (int i = 0; i < n; i++) std::free(pieces[i]);
    std::free(pieces);
    std::free(ids);
}
