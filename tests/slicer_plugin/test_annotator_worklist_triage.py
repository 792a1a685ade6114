"""The Slicer worklist shows a pre-screening score of a model not qualified for triage as such, never as a flag."""

from PneumothoraxAnnotatorLib import worklist_rows


def test_a_score_of_an_unqualified_model_says_so():
    listing = {
        "objects": {
            "a": {
                "image": {"info": {"ptx_probability": 0.97, "ptx_flag": True, "ptx_triage": "not qualified for triage"}}
            },
            "b": {"image": {"info": {"ptx_probability": 0.9, "ptx_flag": True, "ptx_triage": "qualified for triage"}}},
        }
    }
    rows = {row.image_id: row for row in worklist_rows(listing)}

    assert rows["a"].flag_text == "not qualified for triage" and not rows["a"].flagged
    assert rows["b"].flag_text == "⚑ flagged" and not rows["b"].not_qualified
