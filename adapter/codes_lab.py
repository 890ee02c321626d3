"""Laboratory and vital-sign analytes (CLINICAL-SPEC 3.1, 6.1), configuration-shaped.

`ANALYTES` has the shape of the `[analytes.<key>]` tables of the site/protocol TOML:
`loinc` (codes), `canonical_unit` (UCUM; None for qualitative results), `specimen` ("blood"
when a non-blood specimen must not match, None for any), `organism` (viral DNA and serology),
`synonyms` (English and Chinese; the Chinese list is INFERRED). The unit rules per analyte are
in `adapter.unit_tables`.

Keys follow the CLINICAL-SPEC 3.1 marker keys where one exists. LOINC codes marked NOT VERIFIED
in CLINICAL-SPEC 6.1 (sIL-2R, CXCL9, IL-18, CMV DNA copies in serum/plasma, EBV DNA in
serum/plasma or blood) are deliberately absent: a site adds them with `extra_loinc` after
checking them at loinc.org; until then those analytes match by site-local code or by text.
"""

from __future__ import annotations

from typing import Any

# fmt: off
ANALYTES: dict[str, dict[str, Any]] = {
    # 2276-4 FOUND.
    "ferritin": {
        "loinc": ["2276-4"], "canonical_unit": "ng/mL", "specimen": "blood",
        "synonyms": ["ferritin", "fer", "铁蛋白"],
    },
    # 2571-8, 14927-8 (molar), 3048-6 (fasting) FOUND. 3043-7 (TG in Blood) is excluded below.
    "TG": {
        "loinc": ["2571-8", "14927-8", "3048-6"], "canonical_unit": "mmol/L", "specimen": "blood",
        "synonyms": ["triglyceride", "triglycerides", "tg", "trig", "甘油三酯", "三酰甘油"],
    },
    # 3255-7 (coagulation), 30902-1 (heat denaturation) FOUND.
    "fibrinogen": {
        "loinc": ["3255-7", "30902-1"], "canonical_unit": "g/L", "specimen": "blood",
        "synonyms": ["fibrinogen", "fib", "fbg", "纤维蛋白原"],
    },
    # 777-3 FOUND; 26515-7 RECALLED.
    "PLT": {
        "loinc": ["777-3", "26515-7"], "canonical_unit": "10*9/L", "specimen": "blood",
        "synonyms": ["platelets", "platelet", "platelet count", "plt", "血小板", "血小板计数"],
    },
    # 6690-2 FOUND; 26464-8 RECALLED.
    "WBC": {
        "loinc": ["6690-2", "26464-8"], "canonical_unit": "10*9/L", "specimen": "blood",
        "synonyms": [
            "leukocytes", "white blood cells", "white blood cell count", "wbc", "白细胞",
            "白细胞计数",
        ],
    },
    # 751-8 FOUND; 753-4, 26499-4 RECALLED.
    "ANC": {
        "loinc": ["751-8", "753-4", "26499-4"], "canonical_unit": "10*9/L", "specimen": "blood",
        "synonyms": [
            "absolute neutrophil count", "neutrophil count", "neutrophils absolute",
            "neutrophil absolute count", "anc", "neut#", "中性粒细胞绝对值", "中性粒细胞计数",
            "中性粒细胞数",
        ],
    },
    # 770-8 FOUND (to derive ANC, 6.4).
    "neutrophils_pct": {
        "loinc": ["770-8"], "canonical_unit": "%", "specimen": "blood",
        "synonyms": [
            "neutrophils %", "neutrophil %", "neutrophils percent", "neut %", "neu %",
            "中性粒细胞百分比", "中性粒细胞%", "中性粒细胞比率", "中性粒细胞百分率",
        ],
    },
    # 718-7 FOUND; 59260-0 (molar) RECALLED.
    "Hb": {
        "loinc": ["718-7", "59260-0"], "canonical_unit": "g/L", "specimen": "blood",
        "synonyms": ["hemoglobin", "haemoglobin", "hb", "hgb", "血红蛋白"],
    },
    # 1742-6 FOUND.
    "ALT": {
        "loinc": ["1742-6"], "canonical_unit": "U/L", "specimen": "blood",
        "synonyms": [
            "alanine aminotransferase", "alt", "gpt", "sgpt", "谷丙转氨酶", "丙氨酸氨基转移酶",
        ],
    },
    # 1920-8 FOUND.
    "AST": {
        "loinc": ["1920-8"], "canonical_unit": "U/L", "specimen": "blood",
        "synonyms": [
            "aspartate aminotransferase", "ast", "got", "sgot", "谷草转氨酶",
            "天门冬氨酸氨基转移酶", "天冬氨酸氨基转移酶",
        ],
    },
    # 2532-0 FOUND; 14804-9 (lactate -> pyruvate) RECALLED.
    "LDH": {
        "loinc": ["2532-0", "14804-9"], "canonical_unit": "U/L", "specimen": "blood",
        "synonyms": ["lactate dehydrogenase", "ldh", "ld", "乳酸脱氢酶"],
    },
    # LOINC NOT VERIFIED: site-local code or text only. Canonical "[U]/mL" is the U/mL scale;
    # results in pg/mL or ng/mL keep their own (mass) scale, see adapter.units (6.4).
    "sCD25": {
        "loinc": [], "canonical_unit": "[U]/mL", "specimen": "blood",
        "synonyms": [
            "scd25", "soluble cd25", "sil 2r", "sil2r", "soluble interleukin 2 receptor",
            "soluble il 2 receptor", "interleukin 2 receptor soluble", "可溶性cd25",
            "可溶性白介素2受体", "可溶性白细胞介素2受体", "可溶性il 2受体", "可溶性il 2r",
        ],
    },
    # 1988-5, hs-CRP 30522-7 RECALLED.
    "CRP": {
        "loinc": ["1988-5", "30522-7"], "canonical_unit": "mg/L", "specimen": "blood",
        "synonyms": [
            "c reactive protein", "crp", "hs crp", "hscrp", "high sensitivity crp",
            "c反应蛋白", "超敏c反应蛋白",
        ],
    },
    # 4537-7, 30341-2 RECALLED.
    "ESR": {
        "loinc": ["4537-7", "30341-2"], "canonical_unit": "mm/h", "specimen": "blood",
        "synonyms": ["erythrocyte sedimentation rate", "esr", "sed rate", "血沉", "红细胞沉降率"],
    },
    # 27415-9 FOUND.
    "IFN-gamma": {
        "loinc": ["27415-9"], "canonical_unit": "pg/mL", "specimen": "blood",
        "synonyms": [
            "interferon gamma", "ifn gamma", "ifn γ", "ifng", "γ干扰素", "干扰素γ", "γ 干扰素",
        ],
    },
    # LOINC NOT VERIFIED.
    "CXCL9": {
        "loinc": [], "canonical_unit": "pg/mL", "specimen": "blood",
        "synonyms": ["cxcl9", "cxcl 9"],
    },
    # LOINC NOT VERIFIED.
    "IL-18": {
        "loinc": [], "canonical_unit": "pg/mL", "specimen": "blood",
        "synonyms": ["interleukin 18", "il 18", "il18", "白介素18", "白细胞介素18"],
    },
    # 26881-3 RECALLED.
    "IL-6": {
        "loinc": ["26881-3"], "canonical_unit": "pg/mL", "specimen": "blood",
        "synonyms": ["interleukin 6", "il 6", "il6", "白介素6", "白细胞介素6"],
    },
    # 48065-7 FOUND. FEU and DDU are separate analytes, never converted (6.4). Plain "D-dimer"
    # text is read as FEU, the NI-0501-04 default (3.3, INFERRED); a DDU unit then refuses.
    "D-dimer_FEU": {
        "loinc": ["48065-7"], "canonical_unit": "mg/L", "specimen": "blood",
        "synonyms": ["d dimer", "d dimer feu", "d二聚体", "d二聚体 feu"],
    },
    # 48066-5 FOUND.
    "D-dimer_DDU": {
        "loinc": ["48066-5"], "canonical_unit": "ug/L", "specimen": "blood",
        "synonyms": ["d dimer ddu", "d二聚体 ddu"],
    },
    # 1751-7 FOUND.
    "albumin": {
        "loinc": ["1751-7"], "canonical_unit": "g/L", "specimen": "blood",
        "synonyms": ["albumin", "alb", "白蛋白"],
    },
    # 1975-2 (mass) and 14631-6 (molar) FOUND; one analyte in umol/L (6.3 range; 6.4 factor).
    "bilirubin_total": {
        "loinc": ["1975-2", "14631-6"], "canonical_unit": "umol/L", "specimen": "blood",
        "synonyms": ["total bilirubin", "bilirubin total", "tbil", "t bil", "总胆红素"],
    },
    # 8310-5 RECALLED (FHIR vital-signs profile).
    "temperature": {
        "loinc": ["8310-5"], "canonical_unit": "Cel", "specimen": None,
        "synonyms": ["body temperature", "temperature", "temp", "体温"],
    },
    # 29463-7 FOUND.
    "body_weight": {
        "loinc": ["29463-7"], "canonical_unit": "kg", "specimen": None,
        "synonyms": ["body weight", "weight", "体重"],
    },
    # 72493-0 (IU, S/P), 29604-6 (copies, blood), 30246-3 (presence, S/P), 4996-5 (presence,
    # blood) FOUND. 30247-1 (copies, S/P) NOT VERIFIED. Canonical "[IU]/mL" is the IU scale;
    # copies keep their own scale (6.4). Blood, serum or plasma only (5.1a).
    "cmv_dna": {
        "loinc": ["72493-0", "29604-6", "30246-3", "4996-5"], "canonical_unit": "[IU]/mL",
        "specimen": "blood", "organism": "CMV",
        "synonyms": [
            "cmv dna", "cytomegalovirus dna", "cmv pcr", "cmv dna pcr", "cmv viral load",
            "巨细胞病毒dna", "巨细胞病毒核酸", "人巨细胞病毒dna", "cmv dna载量",
        ],
    },
    # 49349-4 FOUND. CMV DNA in bronchoalveolar lavage: kept apart from blood CMV DNA (5.1).
    "cmv_dna_bal": {
        "loinc": ["49349-4"], "canonical_unit": "{copies}/mL", "specimen": None,
        "organism": "CMV", "synonyms": [],
    },
    # 13949-3, 24119-0 FOUND (CIBMTR IG). Qualitative.
    "cmv_igg": {
        "loinc": ["13949-3"], "canonical_unit": None, "specimen": "blood", "organism": "CMV",
        "synonyms": ["cmv igg", "cytomegalovirus igg", "巨细胞病毒igg", "巨细胞病毒igg抗体"],
    },
    "cmv_igm": {
        "loinc": ["24119-0"], "canonical_unit": None, "specimen": "blood", "organism": "CMV",
        "synonyms": ["cmv igm", "cytomegalovirus igm", "巨细胞病毒igm", "巨细胞病毒igm抗体"],
    },
    # 32585-2 (any specimen) FOUND; S/P and blood codes NOT VERIFIED. The specimen decides
    # whether a result counts (5.1), so any specimen matches here.
    "ebv_dna": {
        "loinc": ["32585-2"], "canonical_unit": "{copies}/mL", "specimen": None,
        "organism": "EBV",
        "synonyms": [
            "ebv dna", "epstein barr virus dna", "eb病毒dna", "eb病毒核酸", "ebv dna载量",
        ],
    },
}
# fmt: on

# NOT VERIFIED candidates (CLINICAL-SPEC 6.1): NOT active. Shaped for a site config, which
# copies a code into `[analytes.<key>] extra_loinc` after checking it at loinc.org.
NOT_VERIFIED_LOINC: dict[str, tuple[str, ...]] = {
    "cmv_dna": ("30247-1",),  # INFERRED from the presence code 30246-3
}

# 3043-7 Triglyceride [Mass/volume] in Blood (FOUND): a LOINC code that must never be read as a
# study analyte, and blocks the text fallback for the concept that carries it.
LOINC_EXCLUDE = ("3043-7",)

# Words that do not change which analyte a text names: specimen words (the specimen is checked
# separately), LOINC long-name filler and "level"/"fasting" (INFERRED).
ANALYTE_NOISE_WORDS = frozenset(
    {
        "serum", "plasma", "blood", "whole", "venous", "ser", "plas", "bld", "s", "p", "or",
        "in", "and", "level", "levels", "mass", "volume", "moles", "units", "enzymatic",
        "activity", "presence", "concentration", "conc", "quantitative", "quant", "fasting",
        "test", "assay", "value", "result",
    }
)  # fmt: skip
# The same for Chinese, stripped at the start or end only (血清铁蛋白测定 -> 铁蛋白).
ANALYTE_CJK_AFFIXES = (
    "外周血", "静脉血", "血清", "血浆", "全血", "测定", "定量", "检测", "水平", "浓度", "含量",
)  # fmt: skip

# LOINC codes whose property fixes the scale of the value (CLINICAL-SPEC 6.1, 6.4): a result on
# the other scale is refused (non-convertible), never stored under a code that says otherwise.
# 72493-0 [Units/volume] and 29604-6 / 49349-4 / 32585-2 [#/volume] are FOUND in 6.1.
LOINC_SCALE: dict[str, str] = {
    "72493-0": "[IU]/mL",
    "29604-6": "{copies}/mL",
    "49349-4": "{copies}/mL",
    "32585-2": "{copies}/mL",
}
