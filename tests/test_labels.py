from pipeline import labels as L


def test_every_type_has_an_hmip_category():
    assert set(L.HMIP_CATEGORY) == set(L.OversightType)
    assert L.hmip_category("assurance") is L.HmipCategory.QUALITY_ASSURANCE
    assert L.hmip_category("risk") is L.HmipCategory.IMMEDIATE_RISK


def test_code_roles_are_disjoint_and_domain_codes_present():
    assert not (L.OVERSIGHT_CODES & L.CASE_DISCUSSION_CODES)
    assert not (L.OVERSIGHT_CODES & L.SYSTEM_CODES)
    for code in ("C002", "MO1", "MO2", "MO3", "MO5", "MO8", "SPOD03", "SPOD02", "C416", "LRP1"):
        assert L.is_oversight_code(code)
    for code in ("CSPO", "RROD", "CRCO", "C238"):
        assert code in L.CASE_DISCUSSION_CODES and not L.is_oversight_code(code)
    assert {"MO1", "C002"} == L.CATCH_ALL_CODES
    assert L.is_oversight_code(" mo1 ") and not L.is_oversight_code(None)


def test_typical_types_are_oversight_types():
    for ct in L.CONTACT_TYPES.values():
        assert all(t in L.OversightType for t in ct.typical)
        assert bool(ct.typical) == (ct.role in (L.CodeRole.OVERSIGHT, L.CodeRole.CASE_DISCUSSION))


def test_mo_outcomes_from_domain():
    for code in (
        "MO1",
        "MO28",
        "MO3",
        "MO27",
        "MO10",
        "MO11",
        "MO12",
        "MO13",
        "MO23",
        "MO24",
        "MO25",
        "MO26",
    ):
        assert code in L.MO_OUTCOME_CODES
    assert L.OUTCOMES["MO27"].description == "PP recommendation endorsed"


def test_placeholders_and_rosh():
    assert L.PiiKind.CRN.placeholder == "[CRN]"
    assert L.RoshLevel.VERY_HIGH.is_high and not L.RoshLevel.MEDIUM.is_high
