#!/usr/bin/env python3
"""Reference cases for bv2's BERT tokenizers and encoders, straight from transformers 4.30.2 on the
golden set's tiny models (golden/bert/bert/*): edge-case texts through each tokenizer (ids and pieces),
and hidden states of each encoder on given ids, including inputs far past the position buckets.

  python bert_ref_cases.py GOLDEN_BERT_DIR OUT_JSON      (GOLDEN_BERT_DIR: golden/bert/bert)

Reference script only (needs torch, transformers==4.30.2, sentencepiece); never run by the build or
the tests, which read OUT_JSON (tests/data/bert_ref_cases.json, read by tests/test_bert.c).
"""
import json
import os
import random
import sys

import torch
from transformers import (AutoTokenizer, BertForMaskedLM, DebertaV2ForMaskedLM, DebertaV2Model,
                          DebertaV2Tokenizer)

src, out = sys.argv[1:3]
zdir = os.path.join(src, "chinese-roberta-wwm-ext-large")
edir = os.path.join(src, "deberta-v3-large")
jdir = os.path.join(src, "deberta-v2-large-japanese-char-wwm")
toks = {"ZH": AutoTokenizer.from_pretrained(zdir), "EN": DebertaV2Tokenizer.from_pretrained(edir),
        "JP": AutoTokenizer.from_pretrained(jdir)}
assert type(toks["ZH"]).__name__ == "BertTokenizerFast" and type(toks["JP"]).__name__ == "BertJapaneseTokenizer"

zv = open(os.path.join(zdir, "vocab.txt"), encoding="utf-8").read().split("\n")
jv = set(open(os.path.join(jdir, "vocab.txt"), encoding="utf-8").read().split("\n"))
zh_missing = "".join(c for c in "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴切")
jp_missing = "".join(c for c in "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんアイウエオカキクケコ日本語東京大阪漢字今天気雨雪風花鳥月山川海空" if c not in jv)
assert zh_missing, "the ZH vocabulary lacks none of the probe characters"

texts = {
    "ZH": ["", "   ", "东篱把酒黄昏后,有暗香盈袖.", "!!!...,,,???", "。。。，，！", "Hello世界abc123 ABC",
           "Café naïve ÉCOLE", "a\u0001b\u200bc\ufffdd\te\nf\rg\u0000"[:-1], "x" * 150, "un" + "aff" * 20 + "able",
           "全角ＡＢＣ１２３", zh_missing[:3] + "好" + zh_missing[3:6], "[UNK] [CLS]", "##ab ##", "ǅ ß İstanbul",
           "\u3000中\u00a0文\u2028行", "𠀀𪚥", "e\u0301\u0301x"],
    "EN": ["", "The cat sat on the warm kitchen floor.", "Wait... what?!?! No -- really.",
           "two  spaces   and\ttabs\nnewline", "don't can't 'tis o'clock", "naïve café Æsir", "1234 56.7 %&*",
           "a" * 120, "UPPER lower MiXeD", "“quoted” ‘single’ — dash…", "日本 中文 한국어", "\u200b\u00a0x"],
    "JP": ["", "こんにちは,今日はいい天気ですね.", "ｶﾀｶﾅ ﾊﾝｶｸ", "ＡＢＣ１２３ａｂｃ", "!!!...???", "㍻㌔①",
           jp_missing[:4] + "あ", "Hello World", "ガ\u3099パ", "\ttab\nline\u3000wide"],
}
cases = {"tokenizer": [], "model": []}
for lang, tl in texts.items():
    for t in tl:
        cases["tokenizer"].append({"lang": lang, "text": t, "ids": toks[lang](t)["input_ids"],
                                   "pieces": toks[lang].tokenize(t)})

rng = random.Random(7)
models = {"ZH": BertForMaskedLM.from_pretrained(zdir).eval(), "EN": DebertaV2Model.from_pretrained(edir).eval(),
          "JP": DebertaV2ForMaskedLM.from_pretrained(jdir).eval()}
lens = {"ZH": [1, 2, 7, 40, 512], "EN": [1, 3, 40, 300, 700], "JP": [1, 5, 40, 300]}
for lang, m in models.items():
    V = m.config.vocab_size
    for T in lens[lang]:
        ids = [rng.randrange(V) for _ in range(T)]
        with torch.no_grad():
            hs = m(torch.tensor([ids]), output_hidden_states=True)["hidden_states"]
        for which in ([-3, -1, 0] if T == 40 else [-3]):
            h = hs[which][0]
            rows = sorted({0, 1, T // 4, T // 2, 3 * T // 4, T - 2, T - 1} & set(range(T))) if T > 10 else list(range(T))
            cases["model"].append({"lang": lang, "ids": ids, "which": which, "rows": rows,
                                   "values": [h[r].tolist() for r in rows]})
json.dump(cases, open(out, "w", encoding="utf-8"), ensure_ascii=False)
print(len(cases["tokenizer"]), "tokenizer cases,", len(cases["model"]), "model cases")
