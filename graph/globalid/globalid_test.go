package globalid

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzGlobalID: Decode never panics and returns only bounded, well-formed parts; what Encode
// makes of a type name and a local id that fit decodes back to them.
func FuzzGlobalID(f *testing.F) {
	f.Add(Encode("Contact", "0b7f2a8e-3c1d-4e5f-9a6b-7c8d9e0f1a2b"), "Contact", "0b7f2a8e-3c1d-4e5f-9a6b-7c8d9e0f1a2b")
	f.Add(Encode("Contact", "x")+"==", "MergeSuggestion", "x")
	f.Add("", "", "")
	f.Add("not base64!", "Tag:", ":")
	f.Add(Encode("", "id"), "Ta g", "a\x00b")
	f.Add(Encode("Tag", "\xff"), "Tag", "\xff")
	f.Add(strings.Repeat("Q", 40_000), "Workspace", strings.Repeat("x", 300))
	f.Fuzz(func(t *testing.T, gid, typ, id string) {
		gotTyp, gotID, ok := Decode(gid)
		if ok {
			if len(gid) > MaxLength || len(gotTyp)+len(gotID) > MaxLength || !validType(gotTyp) || gotID == "" ||
				!utf8.ValidString(gotID) || strings.ContainsRune(gotID, 0) {
				t.Fatalf("Decode(%.80q) = %q, %q: not a bounded, well-formed id", gid, gotTyp, gotID)
			}
		} else if gotTyp != "" || gotID != "" {
			t.Fatalf("Decode(%.80q) refused but returned %q, %q", gid, gotTyp, gotID)
		}
		enc := Encode(typ, id)
		gotTyp, gotID, ok = Decode(enc)
		fits := len(enc) <= MaxLength && validType(typ) && id != "" && utf8.ValidString(id) && !strings.ContainsRune(id, 0)
		if fits && (!ok || gotTyp != typ || gotID != id) {
			t.Fatalf("Decode(Encode(%q, %q)) = %q, %q, %v; want the same back: %v", typ, id, gotTyp, gotID, ok, fits)
		}
	})
}

func TestDecodeRefuses(t *testing.T) {
	for name, gid := range map[string]string{
		"TooLong":    Encode("Contact", strings.Repeat("a", MaxLength)),
		"Huge":       strings.Repeat("Q", 40_000),
		"NoColon":    Encode("Contact", "")[:4],
		"EmptyType":  Encode("", "id"),
		"TypeSpaces": Encode("Con tact", "id"),
		"NUL":        Encode("Contact", "a\x00b"),
		"NotUTF8":    Encode("Contact", "\xff"),
		"NotBase64":  "%%%",
	} {
		if typ, id, ok := Decode(gid); ok {
			t.Errorf("%s: got %q, %q; want refused", name, typ, id)
		}
	}
	if typ, id, ok := Decode(Encode("Contact", "x") + "="); !ok || typ != "Contact" || id != "x" {
		t.Errorf("padded id: got %q, %q, %v", typ, id, ok)
	}
}
