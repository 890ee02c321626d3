"""Terminology matching (CLINICAL-SPEC 4.2, 4.3.1, 4.4, 5.4, 6.1, 6.5, 6.6)."""

from __future__ import annotations

import doctest
from fractions import Fraction

import pytest

from adapter import codes, codes_lab, textmatch
from adapter import terminology as terminology_module
from adapter.errors import ConfigError
from adapter.terminology import (
    CodeMatch,
    ConditionMatch,
    Terminology,
    classify_route,
    match_analyte,
    match_condition,
    match_drug,
    normalise_text,
    prednisone_factor,
)

TERM = Terminology.default()
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
V3 = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"
LAB = "http://hospital.example/lab"
GAMIFANT_RXCUIS = [
    "2104611", "2104616", "2104621", "2104622", "2380771",
    "2380772", "2665325", "2665328", "2665330", "2665331",
]  # fmt: skip


def cc(*codings, text=None):
    """A CodeableConcept dict from (system, code[, display]) tuples."""
    concept = {
        "coding": [dict(zip(("system", "code", "display"), c, strict=False)) for c in codings]
    }
    if text is not None:
        concept["text"] = text
    return concept


# --- normalise_text -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("  Ferritin,\tSERUM ", "ferritin serum", id="casefold-collapse"),
        pytest.param("ＣＲＰ（ｈｓ）", "crp hs", id="nfkc-fullwidth"),
        pytest.param("sIL-2R", "sil 2r", id="punctuation"),
        pytest.param("NEUT%", "neut %", id="percent-kept"),
        pytest.param("铁蛋白", "铁蛋白", id="chinese"),
    ],
)
def test_normalise_text(text, expected):
    assert normalise_text(text) == expected


def test_textmatch_and_terminology_doctests():
    assert doctest.testmod(textmatch).failed == 0
    assert doctest.testmod(terminology_module).failed == 0


# --- match_analyte: LOINC path (6.1) ------------------------------------------------------
@pytest.mark.parametrize(
    ("loinc", "key"),
    [
        # 6.1 FOUND codes.
        pytest.param("2276-4", "ferritin", id="2276-4-ferritin"),
        pytest.param("2571-8", "TG", id="2571-8-TG"),
        pytest.param("14927-8", "TG", id="14927-8-TG-molar"),
        pytest.param("3048-6", "TG", id="3048-6-TG-fasting"),
        pytest.param("3255-7", "fibrinogen", id="3255-7-fibrinogen"),
        pytest.param("30902-1", "fibrinogen", id="30902-1-fibrinogen-heat"),
        pytest.param("777-3", "PLT", id="777-3-PLT"),
        pytest.param("6690-2", "WBC", id="6690-2-WBC"),
        pytest.param("751-8", "ANC", id="751-8-ANC"),
        pytest.param("770-8", "neutrophils_pct", id="770-8-neutrophils-pct"),
        pytest.param("718-7", "Hb", id="718-7-Hb"),
        pytest.param("1742-6", "ALT", id="1742-6-ALT"),
        pytest.param("1920-8", "AST", id="1920-8-AST"),
        pytest.param("2532-0", "LDH", id="2532-0-LDH"),
        pytest.param("27415-9", "IFN-gamma", id="27415-9-IFN-gamma"),
        pytest.param("48065-7", "D-dimer_FEU", id="48065-7-D-dimer-FEU"),
        pytest.param("48066-5", "D-dimer_DDU", id="48066-5-D-dimer-DDU"),
        pytest.param("1751-7", "albumin", id="1751-7-albumin"),
        pytest.param("1975-2", "bilirubin_total", id="1975-2-bilirubin"),
        pytest.param("14631-6", "bilirubin_total", id="14631-6-bilirubin-molar"),
        pytest.param("29463-7", "body_weight", id="29463-7-body-weight"),
        pytest.param("72493-0", "cmv_dna", id="72493-0-cmv-IU"),
        pytest.param("29604-6", "cmv_dna", id="29604-6-cmv-copies-blood"),
        pytest.param("30246-3", "cmv_dna", id="30246-3-cmv-presence"),
        pytest.param("4996-5", "cmv_dna", id="4996-5-cmv-presence-blood"),
        pytest.param("49349-4", "cmv_dna_bal", id="49349-4-cmv-BAL"),
        pytest.param("13949-3", "cmv_igg", id="13949-3-cmv-IgG"),
        pytest.param("24119-0", "cmv_igm", id="24119-0-cmv-IgM"),
        pytest.param("32585-2", "ebv_dna", id="32585-2-ebv"),
        # 6.1 RECALLED codes, shipped as defaults.
        pytest.param("26515-7", "PLT", id="26515-7-PLT"),
        pytest.param("26464-8", "WBC", id="26464-8-WBC"),
        pytest.param("753-4", "ANC", id="753-4-ANC-manual"),
        pytest.param("26499-4", "ANC", id="26499-4-ANC"),
        pytest.param("59260-0", "Hb", id="59260-0-Hb-molar"),
        pytest.param("14804-9", "LDH", id="14804-9-LDH"),
        pytest.param("1988-5", "CRP", id="1988-5-CRP"),
        pytest.param("4537-7", "ESR", id="4537-7-ESR"),
        pytest.param("26881-3", "IL-6", id="26881-3-IL-6"),
        pytest.param("8310-5", "temperature", id="8310-5-temperature"),
    ],
)
def test_match_analyte_by_loinc(loinc, key):
    assert match_analyte(TERM, cc((LOINC, loinc, "x"))) == CodeMatch(
        key, "loinc", LOINC, loinc, "x"
    )


def test_loinc_wins_wherever_it_is():
    # 6.1 / STYLE 6.6: never "the first coding": a local code first, the LOINC code second.
    term = Terminology.from_mapping({"local_codes": {"analytes": {f"{LAB}|TG1": "TG"}}})
    concept = cc((LAB, "TG1"), (LOINC, "2276-4"), text="甘油三酯")
    assert match_analyte(term, concept) == CodeMatch("ferritin", "loinc", LOINC, "2276-4", None)


def test_loinc_system_with_trailing_slash():
    assert match_analyte(TERM, cc((LOINC + "/", "2276-4"))).key == "ferritin"


@pytest.mark.parametrize(
    "concept",
    [
        # 6.1: 3043-7 is TG in Blood ("do not confuse"): never TG, not even through the text.
        pytest.param(cc((LOINC, "3043-7")), id="3043-7"),
        pytest.param(cc((LOINC, "3043-7"), text="甘油三酯"), id="3043-7-with-text"),
        # Two LOINC codes naming two analytes: not guessed between.
        pytest.param(cc((LOINC, "2276-4"), (LOINC, "2571-8")), id="two-analytes"),
        # 6.1 NOT VERIFIED codes are not shipped (a site adds them with extra_loinc).
        pytest.param(cc((LOINC, "30247-1")), id="30247-1-not-verified"),
        pytest.param(None, id="none"),
        pytest.param({}, id="empty"),
    ],
)
def test_match_analyte_refuses(concept):
    assert match_analyte(TERM, concept) is None


@pytest.mark.parametrize("key", ["sCD25", "CXCL9", "IL-18"], ids=["sCD25", "CXCL9", "IL-18"])
def test_not_verified_loinc_lists_are_empty(key):
    # 6.1: sIL-2R, CXCL9, IL-18 LOINC codes are NOT VERIFIED: local code + text match only.
    assert TERM.analyte(key).loinc == frozenset()


# --- match_analyte: local and text paths (6.1) ---------------------------------------------
def test_match_analyte_by_local_code():
    term = Terminology.from_mapping({"local_codes": {"analytes": {f"{LAB}|FER": "ferritin"}}})
    concept = cc((LAB, "FER", "Ferritin"), (LOINC, "99999-9"))
    assert match_analyte(term, concept) == CodeMatch("ferritin", "local", LAB, "FER", "Ferritin")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        # 6.1 examples: 铁蛋白, 甘油三酯, 纤维蛋白原, 可溶性CD25 / sIL-2R / 可溶性白介素2受体,
        # 中性粒细胞绝对值, 巨细胞病毒DNA.
        pytest.param("铁蛋白", "ferritin", id="tiedanbai"),
        pytest.param("血清铁蛋白测定", "ferritin", id="serum-ferritin-chinese"),
        pytest.param("铁蛋白(FER)", "ferritin", id="ferritin-abbrev-in-brackets"),
        pytest.param("Ferritin (serum)", "ferritin", id="ferritin-serum"),
        pytest.param("Ferritin [Mass/volume] in Serum or Plasma", "ferritin", id="loinc-name"),
        pytest.param("甘油三酯", "TG", id="ganyousanzhi"),
        pytest.param("Triglycerides, fasting", "TG", id="tg-fasting"),
        pytest.param("纤维蛋白原", "fibrinogen", id="xianweidanbaiyuan"),
        pytest.param("可溶性CD25", "sCD25", id="kerongxing-cd25"),
        pytest.param("可溶性 CD25", "sCD25", id="kerongxing-cd25-spaced"),
        pytest.param("sIL-2R", "sCD25", id="sIL-2R"),
        pytest.param("可溶性白介素2受体", "sCD25", id="kerongxing-baijiesu-2-shouti"),
        pytest.param("中性粒细胞绝对值", "ANC", id="zhongxingli-juedui"),
        pytest.param("中性粒细胞百分比", "neutrophils_pct", id="zhongxingli-baifenbi"),
        pytest.param("NEUT%", "neutrophils_pct", id="neut-percent"),
        pytest.param("巨细胞病毒DNA", "cmv_dna", id="juxibao-dna"),
        pytest.param("CMV-DNA定量", "cmv_dna", id="cmv-dna-quantitative"),
        pytest.param("D-二聚体", "D-dimer_FEU", id="d-dimer-chinese-is-FEU"),
        pytest.param("D-dimer (DDU)", "D-dimer_DDU", id="d-dimer-DDU"),
        pytest.param("IFN-γ", "IFN-gamma", id="ifn-gamma"),
        pytest.param("白介素-6", "IL-6", id="il-6-chinese"),
        pytest.param("血小板计数", "PLT", id="platelet-count-chinese"),
        pytest.param("谷丙转氨酶", "ALT", id="alt-chinese"),
    ],
)
def test_match_analyte_by_text(text, key):
    assert match_analyte(TERM, {"text": text}) == CodeMatch(key, "text", None, None, text)


def test_text_match_uses_displays_too():
    concept = cc((LAB, "X1", "铁蛋白"))
    assert match_analyte(TERM, concept) == CodeMatch("ferritin", "text", None, None, "铁蛋白")


@pytest.mark.parametrize(
    "text",
    [
        # 6.1: "ferritin in CSF is not serum ferritin"; no substring matches.
        pytest.param("Ferritin in CSF", id="ferritin-in-csf"),
        pytest.param("CSF ferritin", id="csf-ferritin"),
        pytest.param("Ferritin (CSF)", id="ferritin-bracket-csf"),
        pytest.param("脑脊液铁蛋白", id="csf-ferritin-chinese"),
        pytest.param("Ferritin index", id="ferritin-index"),
        pytest.param("Transferrin", id="transferrin"),
        pytest.param("CMV DNA BAL", id="cmv-bal-text"),
        pytest.param("Neutrophils", id="bare-neutrophils-ambiguous"),
    ],
)
def test_text_match_is_conservative(text):
    assert match_analyte(TERM, {"text": text}) is None


def test_texts_naming_two_analytes_match_nothing():
    assert match_analyte(TERM, cc((LAB, "X", "Triglyceride"), text="铁蛋白")) is None


def test_text_matching_can_be_switched_off():
    term = Terminology.from_mapping({"text_matching": False})
    assert match_analyte(term, {"text": "铁蛋白"}) is None
    assert match_analyte(term, cc((LOINC, "2276-4"))).key == "ferritin"


@pytest.mark.parametrize(
    ("concept", "specimen", "expected"),
    [
        # 6.1: specimen checked; a blood analyte on CSF, urine or BAL is not a match.
        pytest.param(cc((LOINC, "2276-4")), "Cerebrospinal fluid", None, id="csf-text"),
        pytest.param(cc((LOINC, "2276-4")), "258450006", None, id="csf-snomed"),
        pytest.param({"text": "铁蛋白"}, "脑脊液", None, id="csf-chinese"),
        pytest.param(cc((LOINC, "72493-0")), "Urine", None, id="cmv-urine"),
        pytest.param({"text": "巨细胞病毒DNA"}, "肺泡灌洗液", None, id="cmv-bal-chinese"),
        pytest.param(cc((LOINC, "2276-4")), "Serum", "ferritin", id="serum"),
        pytest.param(cc((LOINC, "2276-4")), "Specimen/abc", "ferritin", id="unknown-reference"),
        pytest.param(cc((LOINC, "2276-4")), None, "ferritin", id="no-specimen"),
        pytest.param(cc((LOINC, "32585-2")), "CSF", "ebv_dna", id="ebv-any-specimen"),
    ],
)
def test_match_analyte_specimen(concept, specimen, expected):
    match = match_analyte(TERM, concept, specimen=specimen)
    assert (match.key if match else None) == expected


# --- match_condition (6.5, 6.6) -----------------------------------------------------------
@pytest.mark.parametrize(
    ("system", "code", "category", "concept", "path"),
    [
        pytest.param(SNOMED, "55464009", "underlying_disease", "SLE", "snomed", id="snomed-SLE"),
        pytest.param(SNOMED, "28944009", "infection", "CMV", "snomed", id="snomed-CMV"),
        pytest.param(SNOMED, "271558008", "infection", "EBV", "snomed", id="snomed-IM-EBV"),
        pytest.param(SNOMED, "4740000", "infection", "herpes_zoster", "snomed", id="snomed-zoster"),
        pytest.param(
            SNOMED, "233604007", "infection", "pneumonia", "snomed", id="snomed-pneumonia"
        ),
        pytest.param(SNOMED, "53084003", "infection", "pneumonia", "snomed", id="snomed-bact-pneu"),
        pytest.param(SNOMED, "91302008", "infection", "sepsis", "snomed", id="snomed-sepsis"),
        pytest.param(
            SNOMED, "770349000", "infection", "sepsis", "snomed", id="snomed-viral-sepsis"
        ),
        pytest.param(SNOMED, "87628006", "infection", "bacterial", "snomed", id="snomed-bacterial"),
        pytest.param(SNOMED, "3218000", "infection", "fungal", "snomed", id="snomed-mycosis"),
        pytest.param(ICD10, "M06.1", "underlying_disease", "AOSD", "icd10", id="icd-M06.1-AOSD"),
        pytest.param(ICD10, "M061", "underlying_disease", "AOSD", "icd10", id="icd-M061-no-dot"),
        pytest.param(ICD10, "M32.1", "underlying_disease", "SLE", "icd10", id="icd-M32.1"),
        pytest.param(ICD10_CM, "M32.14", "underlying_disease", "SLE", "icd10", id="icdcm-M32.14"),
        pytest.param(ICD10, "M32.9", "underlying_disease", "SLE", "icd10", id="icd-M32.9"),
        pytest.param(ICD10, "D76.1", "mas_hlh", "HLH", "icd10", id="icd-D76.1-HLH"),
        pytest.param(ICD10, "D76.2", "mas_hlh", "HLH", "icd10", id="icd-D76.2-IAHS"),
        pytest.param(ICD10, "B25.9", "infection", "CMV", "icd10", id="icd-B25.9"),
        pytest.param(ICD10, "B25.0", "infection", "CMV", "icd10", id="icd-B25.0-pneumonitis"),
        pytest.param(ICD10, "B27.1", "infection", "CMV", "icd10", id="icd-B27.1-cmv-mono"),
        pytest.param(ICD10, "B27.0", "infection", "EBV", "icd10", id="icd-B27.0-EBV"),
        pytest.param(ICD10, "B02.9", "infection", "herpes_zoster", "icd10", id="icd-B02.9"),
        pytest.param(ICD10, "J18.9", "infection", "pneumonia", "icd10", id="icd-J18.9"),
        pytest.param(ICD10, "A41.9", "infection", "sepsis", "icd10", id="icd-A41.9"),
        pytest.param(ICD10, "A49.9", "infection", "bacterial", "icd10", id="icd-A49.9"),
        pytest.param(ICD10, "B37.0", "infection", "fungal", "icd10", id="icd-B37-candida"),
        pytest.param(ICD10, "B44.1", "infection", "fungal", "icd10", id="icd-B44-aspergillus"),
    ],
)
def test_match_condition_by_code(system, code, category, concept, path):
    assert match_condition(TERM, cc((system, code, "d"))) == ConditionMatch(
        category, concept, path, system, code, "d"
    )


@pytest.mark.parametrize(
    "concept",
    [
        # 6.5: M32.0 is drug-induced SLE (not listed); D76.3 is not HLH (INFERRED).
        pytest.param(cc((ICD10, "M32.0")), id="icd-M32.0"),
        pytest.param(cc((ICD10, "D76.3")), id="icd-D76.3"),
        # A code in the wrong system does not match.
        pytest.param(cc(("http://example.org/other", "B25.9")), id="other-system"),
        pytest.param(cc((SNOMED, "B25.9")), id="icd-code-in-snomed"),
        pytest.param({"text": "lupus nephritis"}, id="text-other"),
        pytest.param({"text": "history of CMV infection"}, id="text-substring"),
        pytest.param(None, id="none"),
    ],
)
def test_match_condition_refuses(concept):
    assert match_condition(TERM, concept) is None


def test_condition_codes_naming_two_concepts_take_the_more_specific():
    # 6.6: CMV pneumonitis coded both as pneumonia and as CMV counts as CMV (INFERRED priority).
    concept = cc((SNOMED, "233604007"), (SNOMED, "28944009"))
    assert match_condition(TERM, concept).concept == "CMV"


def test_snomed_path_before_icd10():
    concept = cc((ICD10, "J18.9"), (SNOMED, "28944009"))
    assert match_condition(TERM, concept).path == "snomed"


def test_match_condition_by_local_code():
    # 6.5: MAS has no verified SNOMED/ICD-10 code: sites map their own.
    term = Terminology.from_mapping({"local_codes": {"conditions": {"http://dx|MAS01": "MAS"}}})
    assert match_condition(term, cc(("http://dx", "MAS01"))) == ConditionMatch(
        "mas_hlh", "MAS", "local", "http://dx", "MAS01", None
    )


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        pytest.param("巨噬细胞活化综合征", "MAS", id="mas-chinese"),
        pytest.param("Macrophage activation syndrome", "MAS", id="mas-english"),
        pytest.param("Adult-onset Still's disease", "AOSD", id="aosd-english"),
        pytest.param("成人Still病", "AOSD", id="aosd-chinese-still"),
        pytest.param("系统性红斑狼疮", "SLE", id="sle-chinese"),
        pytest.param("噬血细胞综合征", "HLH", id="hlh-chinese"),
        pytest.param("Cytomegalovirus infection (disorder)", "CMV", id="cmv-snomed-display"),
        pytest.param("巨细胞病毒感染", "CMV", id="cmv-chinese"),
        pytest.param("Cytomegalovirus infection reactivation", "CMV", id="cmv-meddra-pt"),
        pytest.param("带状疱疹", "herpes_zoster", id="zoster-chinese"),
        pytest.param("脓毒症", "sepsis", id="sepsis-chinese"),
    ],
)
def test_match_condition_by_text(text, concept):
    match = match_condition(TERM, {"text": text})
    assert (match.concept, match.path, match.display) == (concept, "text", text)


# --- match_drug (4.4) ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("coding", "ingredient", "path", "drug_class"),
    [
        # 4.4 path 1: RxNorm IN codes (FOUND / RECALLED).
        pytest.param((RXNORM, "8640"), "prednisone", "rxnorm_in", "glucocorticoid", id="in-8640"),
        pytest.param((RXNORM, "8638"), "prednisolone", "rxnorm_in", "glucocorticoid", id="in-8638"),
        pytest.param(
            (RXNORM, "6902"), "methylprednisolone", "rxnorm_in", "glucocorticoid", id="in-6902"
        ),
        pytest.param(
            (RXNORM, "3264"), "dexamethasone", "rxnorm_in", "glucocorticoid", id="in-3264"
        ),
        pytest.param(
            (RXNORM, "3008"), "ciclosporin", "rxnorm_in", "other_mas_therapy", id="in-3008"
        ),
        pytest.param(
            (RXNORM, "72435"), "anakinra", "rxnorm_in", "other_mas_therapy", id="in-72435"
        ),
        pytest.param((RXNORM, "4179"), "etoposide", "rxnorm_in", "other_mas_therapy", id="in-4179"),
        pytest.param((RXNORM, "6851"), "methotrexate", "rxnorm_in", "other", id="in-6851-mtx"),
        # 4.4 path 2: product codes through the offline table.
        pytest.param(
            (RXNORM, "312617"), "prednisone", "rxnorm_table", "glucocorticoid", id="table-312617"
        ),
        pytest.param(
            (RXNORM, "259966"),
            "methylprednisolone",
            "rxnorm_table",
            "glucocorticoid",
            id="table-259966",
        ),
        # 4.4 path 3: ATC, old and current codes both accepted.
        pytest.param((ATC, "L04AA39"), "emapalumab", "atc", "emapalumab", id="atc-L04AA39"),
        pytest.param((ATC, "L04AG09"), "emapalumab", "atc", "emapalumab", id="atc-L04AG09"),
        pytest.param(
            (ATC, "H02AB04"), "methylprednisolone", "atc", "glucocorticoid", id="atc-H02AB04"
        ),
        pytest.param((ATC, "h02ab07"), "prednisone", "atc", "glucocorticoid", id="atc-lowercase"),
        pytest.param(
            (ATC, "L04AA29"), "tofacitinib", "atc", "other_mas_therapy", id="atc-old-tofa"
        ),
        pytest.param(
            (ATC, "L04AF01"), "tofacitinib", "atc", "other_mas_therapy", id="atc-new-tofa"
        ),
        pytest.param(
            (ATC, "L04AA06"),
            "mycophenolic acid",
            "atc",
            "other_mas_therapy",
            id="atc-mycophenolate",
        ),
        pytest.param((ATC, "J06BA02"), "ivig", "atc", "other_mas_therapy", id="atc-ivig"),
    ],
)
def test_match_drug_by_code(coding, ingredient, path, drug_class):
    match = match_drug(TERM, cc(coding))
    assert (match.ingredient, match.match_path, match.drug_class) == (ingredient, path, drug_class)
    assert (match.code_system, match.code) == coding


@pytest.mark.parametrize("rxcui", GAMIFANT_RXCUIS, ids=GAMIFANT_RXCUIS)
def test_gamifant_product_rxcuis_are_emapalumab(rxcui):
    # 4.4 FOUND: Gamifant product RxCUIs (openFDA NDC 66658-510) -> emapalumab, path 2.
    match = match_drug(TERM, cc((RXNORM, rxcui)))
    assert (match.ingredient, match.match_path, match.drug_class) == (
        "emapalumab",
        "rxnorm_table",
        "emapalumab",
    )


@pytest.mark.parametrize(
    ("text", "ingredient"),
    [
        # 4.4 path 4: names found as words; prednisolone never matches prednisone and vice versa.
        pytest.param("predniSONE 5 MG Oral Tablet", "prednisone", id="prednisone-word"),
        pytest.param("prednisolone 5 mg tablet", "prednisolone", id="prednisolone"),
        pytest.param("Methylprednisolone sodium succinate", "methylprednisolone", id="mp"),
        pytest.param("Solu-Medrol 40 mg", "methylprednisolone", id="solu-medrol"),
        pytest.param("Gamifant 50 mg/10 mL", "emapalumab", id="gamifant"),
        pytest.param("hydrocortisone cream", "hydrocortisone", id="hydrocortisone-not-cortisone"),
        # 4.4 Chinese names (INFERRED list): 甲泼尼龙/甲强龙, 泼尼松, 地塞米松, 环孢素, 芦可替尼,
        # 托法替布, 依托泊苷.
        pytest.param("注射用甲泼尼龙琥珀酸钠", "methylprednisolone", id="jiapoliniong"),
        pytest.param("甲强龙", "methylprednisolone", id="jiaqianglong"),
        pytest.param("泼尼松片", "prednisone", id="ponisong"),
        pytest.param("醋酸泼尼松龙片", "prednisolone", id="ponisonglong-not-ponisong"),
        pytest.param("地塞米松磷酸钠注射液", "dexamethasone", id="disaimisong"),
        pytest.param("环孢素软胶囊", "ciclosporin", id="huanbaosu"),
        pytest.param("芦可替尼片", "ruxolitinib", id="lukeitini"),
        pytest.param("托法替布", "tofacitinib", id="tuofatibu"),
        pytest.param("依托泊苷注射液", "etoposide", id="yituobogan"),
        pytest.param("氢化可的松", "hydrocortisone", id="qinghua-kedisong"),
    ],
)
def test_match_drug_by_name(text, ingredient):
    match = match_drug(TERM, {"text": text})
    assert (match.ingredient, match.match_path, match.text) == (ingredient, "name", text)


def test_rxnorm_beats_atc_and_names_wherever_it_is():
    concept = cc((ATC, "H02AB02", "dexamethasone"), (RXNORM, "8640"), text="dexamethasone")
    match = match_drug(TERM, concept)
    assert (match.ingredient, match.match_path, match.code) == ("prednisone", "rxnorm_in", "8640")


def test_unknown_rxnorm_code_falls_back_to_its_display():
    match = match_drug(TERM, cc((RXNORM, "999999", "predniSONE 10 MG Oral Tablet")))
    assert (match.ingredient, match.match_path, match.code) == ("prednisone", "name", "999999")


def test_extra_codings_and_text():
    match = match_drug(TERM, None, extra_codings=[{"system": RXNORM, "code": "6902"}])
    assert match.ingredient == "methylprednisolone"
    assert match_drug(TERM, {}, text="地塞米松").ingredient == "dexamethasone"


@pytest.mark.parametrize(
    "concept",
    [
        pytest.param(cc((RXNORM, "313782", "Acetaminophen 325 MG Oral Tablet")), id="other-drug"),
        pytest.param({"text": "prednisone and ciclosporin"}, id="two-ingredients"),
        pytest.param(None, id="none"),
    ],
)
def test_match_drug_nothing(concept):
    match = match_drug(TERM, concept)
    assert (match.ingredient, match.match_path, match.drug_class) == (None, None, "other")


def test_match_drug_by_local_code():
    term = Terminology.from_mapping({"local_codes": {"drugs": {"http://drug|EMA": "emapalumab"}}})
    match = match_drug(term, cc(("http://drug", "EMA")))
    assert (match.ingredient, match.match_path, match.drug_class) == (
        "emapalumab",
        "local",
        "emapalumab",
    )


# --- classify_route (4.3.1) ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("concept", "expected"),
    [
        pytest.param(cc((SNOMED, "26643006")), "systemic", id="snomed-oral"),
        pytest.param(cc((SNOMED, "47625008")), "systemic", id="snomed-iv"),
        pytest.param(cc((SNOMED, "78421000")), "systemic", id="snomed-im"),
        pytest.param(cc((SNOMED, "34206005")), "systemic", id="snomed-sc"),
        pytest.param(cc((SNOMED, "255560000")), "systemic", id="snomed-iv-qualifier"),
        pytest.param(cc((SNOMED, "12130007")), "intra-articular", id="snomed-intra-articular"),
        pytest.param(cc((SNOMED, "6064005")), "excluded", id="snomed-topical"),
        pytest.param(cc((SNOMED, "447694001")), "excluded", id="snomed-inhaled"),
        pytest.param(cc((SNOMED, "54485002")), "excluded", id="snomed-ophthalmic"),
        pytest.param(cc((SNOMED, "10547007")), "excluded", id="snomed-otic"),
        pytest.param(cc((SNOMED, "46713006")), "excluded", id="snomed-nasal"),
        pytest.param(cc((SNOMED, "37161004")), "excluded", id="snomed-rectal"),
        pytest.param(cc((V3, "PO")), "systemic", id="v3-PO"),
        pytest.param(cc((V3, "IVINJ")), "systemic", id="v3-IVINJ"),
        pytest.param(cc((V3, "IM")), "systemic", id="v3-IM"),
        pytest.param(cc((V3, "SQ")), "systemic", id="v3-SQ"),
        pytest.param(cc((V3, "IARTINJ")), "intra-articular", id="v3-IARTINJ"),
        pytest.param(cc((V3, "IPINHL")), "excluded", id="v3-inhalation"),
        pytest.param(cc((V3, "OPTHALTA")), "excluded", id="v3-ophthalmic"),
        pytest.param({"text": "口服"}, "systemic", id="text-koufu"),
        pytest.param({"text": "静滴"}, "systemic", id="text-jingdi"),
        pytest.param({"text": "静脉滴注"}, "systemic", id="text-jingmai-dizhu"),
        pytest.param({"text": "肌注"}, "systemic", id="text-jizhu"),
        pytest.param({"text": "皮下注射"}, "systemic", id="text-pixia"),
        pytest.param({"text": "ivgtt"}, "systemic", id="text-ivgtt"),
        pytest.param({"text": "IV push"}, "systemic", id="text-iv-push"),
        pytest.param(cc((None, None, "Oral")), "systemic", id="display-oral"),
        pytest.param({"text": "关节腔注射"}, "intra-articular", id="text-guanjieqiang"),
        pytest.param({"text": "Intra-articular"}, "intra-articular", id="text-intra-articular"),
        pytest.param({"text": "外用"}, "excluded", id="text-waiyong"),
        pytest.param({"text": "雾化吸入"}, "excluded", id="text-wuhua"),
        pytest.param({"text": "滴眼"}, "excluded", id="text-diyan"),
        pytest.param({"text": "inhalation"}, "excluded", id="text-inhalation"),
        # No route given -> unspecified; a route nobody can classify -> unknown.
        pytest.param(None, "unspecified", id="none"),
        pytest.param({}, "unspecified", id="empty"),
        pytest.param({"text": " "}, "unspecified", id="blank-text"),
        pytest.param(cc(("http://x", "99")), "unknown", id="unknown-code"),
        pytest.param({"text": "注射"}, "unknown", id="text-injection-unclassified"),
        pytest.param({"text": "口服或外用"}, "unknown", id="text-two-classes"),
    ],
)
def test_classify_route(concept, expected):
    assert classify_route(TERM, concept) == expected


def test_site_route_codes():
    term = Terminology.from_mapping({"routes": {"codes": {"http://route|01": "systemic"}}})
    assert classify_route(term, cc(("http://route", "01"))) == "systemic"


# --- prednisone_factor (4.2) --------------------------------------------------------------
@pytest.mark.parametrize(
    ("ingredient", "factor"),
    [
        # 4.2: mg prednisone per mg drug = 5 / (mg equivalent to 5 mg prednisone).
        pytest.param("prednisone", Fraction(1), id="prednisone-5-5"),
        pytest.param("prednisolone", Fraction(1), id="prednisolone-5-5"),
        pytest.param("methylprednisolone", Fraction(5, 4), id="methylprednisolone-5-4"),
        pytest.param("triamcinolone", Fraction(5, 4), id="triamcinolone-5-4"),
        pytest.param("hydrocortisone", Fraction(1, 4), id="hydrocortisone-5-20"),
        pytest.param("cortisone", Fraction(1, 5), id="cortisone-5-25"),
        pytest.param("dexamethasone", Fraction(20, 3), id="dexamethasone-5-0.75"),
        pytest.param("betamethasone", Fraction(20, 3), id="betamethasone-default-5-0.75"),
        pytest.param("ciclosporin", None, id="not-a-glucocorticoid"),
    ],
)
def test_prednisone_factor(ingredient, factor):
    assert prednisone_factor(TERM, ingredient) == factor


def test_prednisone_factor_hand_worked_4_3():
    # 4.3 patient A: methylprednisolone 40 mg q12h = 80 mg x 5/4 = 100 mg prednisone.
    assert 80 * prednisone_factor(TERM, "methylprednisolone") == 100
    # 4.3 patient B: dexamethasone 10 mg x 20/3 = 200/3 = 66.667 mg.
    assert 10 * prednisone_factor(TERM, "dexamethasone") == Fraction(200, 3)
    assert round(float(Fraction(200, 3)), 3) == 66.667


def test_betamethasone_factor_configurable():
    # 4.2: "some tables give 0.6 mg -> 8.3333": config alternative 25/3.
    term = Terminology.from_mapping({"steroids": {"betamethasone_factor": "25/3"}})
    assert prednisone_factor(term, "betamethasone") == Fraction(25, 3)
    assert prednisone_factor(term, "dexamethasone") == Fraction(20, 3)


# --- Terminology.from_mapping ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"analyte": {}}, "'analyte'", id="unknown-top-key"),
        pytest.param(
            {"analytes": {"ferritin": {"loincs": []}}},
            "'analytes.ferritin.loincs'",
            id="unknown-analyte-key",
        ),
        pytest.param(
            {"local_codes": {"analyte": {}}}, "'local_codes.analyte'", id="unknown-local-codes-key"
        ),
        pytest.param({"routes": {"code": {}}}, "'routes.code'", id="unknown-routes-key"),
        pytest.param(
            {"steroids": {"betamethasone": "25/3"}},
            "'steroids.betamethasone'",
            id="unknown-steroids-key",
        ),
        pytest.param(
            {"drugs": {"prednisone": {"atcs": []}}},
            "'drugs.prednisone.atcs'",
            id="unknown-drug-key",
        ),
        pytest.param(
            {"conditions": {"MAS": {"snomedct": []}}},
            "'conditions.MAS.snomedct'",
            id="unknown-condition-key",
        ),
        pytest.param(
            {"steroids": {"betamethasone_factor": 8.3333}}, "not a float", id="float-factor"
        ),
        pytest.param(
            {"steroids": {"betamethasone_factor": "abc"}}, "not a number", id="bad-factor"
        ),
        pytest.param({"steroids": {"aspirin_factor": "1"}}, "aspirin", id="factor-unknown-drug"),
        pytest.param(
            {"local_codes": {"analytes": {"nobar": "ferritin"}}},
            "system|code",
            id="local-code-without-bar",
        ),
        pytest.param(
            {"local_codes": {"analytes": {"http://x|1": "ferriten"}}},
            "ferriten",
            id="local-code-unknown-analyte",
        ),
        pytest.param(
            {"analytes": {"TG": {"extra_loinc": ["2276-4"]}}}, "2276-4", id="loinc-claimed-twice"
        ),
        pytest.param(
            {"analytes": {"TG": {"extra_synonyms": ["铁蛋白"]}}},
            "铁蛋白",
            id="synonym-claimed-twice",
        ),
        pytest.param(
            {"analytes": {"vas": {"loinc": []}}}, "canonical_unit", id="new-analyte-needs-unit"
        ),
        pytest.param(
            {"analytes": {"ferritin": {"canonical_unit": "ug/L"}}},
            "cannot change",
            id="canonical-unit-fixed",
        ),
        pytest.param(
            {"routes": {"text": {"bolus": "sometimes"}}}, "sometimes", id="bad-route-class"
        ),
        pytest.param({"drugs": {"foo": {"names": ["foo"]}}}, "class", id="new-drug-needs-class"),
        pytest.param(
            {"conditions": {"MAS": {"category": "other"}}}, "category", id="bad-condition-category"
        ),
        pytest.param({"text_matching": "yes"}, "text_matching", id="text-matching-not-bool"),
        pytest.param(
            {"analytes": {"ferritin": {"loinc": "2276-4"}}},
            "list of strings",
            id="loinc-not-a-list",
        ),
        pytest.param({"rxnorm_products": {"1": "nodrug"}}, "nodrug", id="rxnorm-unknown-drug"),
    ],
)
def test_from_mapping_rejects(data, message):
    with pytest.raises(ConfigError, match=message.replace("|", r"\|")):
        Terminology.from_mapping(data)


def test_not_verified_candidates_are_inactive():
    # 6.1: "Do not hard-code a code marked NOT VERIFIED": listed as data, never active by default.
    for key, candidates in codes_lab.NOT_VERIFIED_LOINC.items():
        assert not TERM.analyte(key).loinc & set(candidates)
        term = Terminology.from_mapping({"analytes": {key: {"extra_loinc": list(candidates)}}})
        assert match_analyte(term, cc((LOINC, candidates[0]))).key == key


def test_from_mapping_extends_and_replaces_lists():
    # 6.1: a NOT VERIFIED code goes in through the site config after checking it at loinc.org.
    term = Terminology.from_mapping(
        {
            "analytes": {
                "cmv_dna": {"extra_loinc": ["30247-1"]},
                "ferritin": {"loinc": ["99999-1"], "extra_synonyms": ["FERR-X"]},
            },
            "rxnorm_products": {"1234567": "emapalumab"},
        }
    )
    assert match_analyte(term, cc((LOINC, "30247-1"))).key == "cmv_dna"
    assert match_analyte(term, cc((LOINC, "2276-4"))) is None
    assert match_analyte(term, cc((LOINC, "99999-1"))).key == "ferritin"
    assert match_analyte(term, {"text": "ferr-x"}).key == "ferritin"
    assert match_drug(term, cc((RXNORM, "1234567"))).ingredient == "emapalumab"
    assert match_analyte(TERM, cc((LOINC, "30247-1"))) is None  # the default is untouched


def test_from_mapping_with_base():
    base = Terminology.from_mapping({"text_matching": False})
    term = Terminology.from_mapping({"steroids": {"betamethasone_factor": 8}}, base=base)
    assert term.text_matching is False
    assert prednisone_factor(term, "betamethasone") == 8


def test_new_condition_and_drug_from_config():
    term = Terminology.from_mapping(
        {
            "conditions": {"adenovirus": {"category": "infection", "icd10": ["B34.0"]}},
            "drugs": {"emapalumab": {"extra_names": ["依马利尤单抗"]}},
        }
    )
    assert match_condition(term, cc((ICD10, "B34.0"))).concept == "adenovirus"
    assert match_drug(term, {"text": "依马利尤单抗"}).ingredient == "emapalumab"


def test_default_is_shared_and_immutable():
    assert Terminology.default() is TERM
    with pytest.raises(TypeError):
        TERM.analytes["x"] = TERM.analytes["ferritin"]  # type: ignore[index]
    assert TERM.analyte("ferritin").canonical_unit == "ng/mL"
    with pytest.raises(KeyError, match="nope"):
        TERM.analyte("nope")


def test_offline_rxnorm_table_holds_the_gamifant_rxcuis():
    assert {TERM.rxnorm_products[r] for r in GAMIFANT_RXCUIS} == {"emapalumab"}


# --- AdverseEvent tables (5.2-5.4) --------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "expected"),
    [
        # 5.4: both spellings of the seriousness code system.
        pytest.param("Serious", (True, None), id="R4-Serious"),
        pytest.param("Non-serious", (False, None), id="R4-Non-serious"),
        pytest.param("SeriousResultsInDeath", (True, "death"), id="R4-death"),
        pytest.param("SeriousIsLifeThreatening", (True, "life-threatening"), id="R4-life"),
        pytest.param("SeriousResultsInHospitalization", (True, "hospitalization"), id="R4-hosp"),
        pytest.param("SeriousResultsInDisability", (True, "disability"), id="R4-disability"),
        pytest.param("SeriousIsBirthDefect", (True, "congenital-anomaly"), id="R4-birth-defect"),
        pytest.param(
            "SeriousRequiresPreventImpairment",
            (True, "required-intervention"),
            id="R4-prevent-impairment",
        ),
        pytest.param("serious", (True, None), id="THO-serious"),
        pytest.param("non-serious", (False, None), id="THO-non-serious"),
    ],
)
def test_seriousness_codes(code, expected):
    assert codes.SERIOUSNESS[code] == expected


def test_ae_research_ig_tables():
    # 5.3-5.4 / 7: AE research IG extensions (R5 IG and R4 backport) and their code tables.
    assert "http://hl7.org/fhir/uv/ae-research-ig/StructureDefinition/ae-severity" in (
        codes.AE_SEVERITY_URLS
    )
    assert "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade" in (
        codes.AE_GRADE_URLS
    )
    assert (
        "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/seriousness-criteria"
        in codes.AE_SERIOUSNESS_CRITERIA_URLS
    )
    assert [codes.CTCAE_GRADES[c] for c in ("C41338", "C41339", "C41340", "C41337", "C48275")] == [
        1, 2, 3, 4, 5,
    ]  # fmt: skip
    assert codes.SERIOUSNESS_CRITERIA["C83052"] == "hospitalization"
    assert sorted(codes.SEVERITY_CODES) == ["mild", "moderate", "severe"]
    assert "fatal" in codes.OUTCOME_CODES
    assert sorted(codes.FATAL_OUTCOMES) == ["fatal"]
