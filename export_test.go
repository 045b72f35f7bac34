package rubrica_test

import (
	"testing"
	"time"

	"rubrica"
)

func TestSafeCell(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":              "",
		"Ada":           "Ada",
		"=1+1":          "'=1+1",
		"+393331234567": "'+393331234567",
		"-3":            "'-3",
		"@SUM(A1)":      "'@SUM(A1)",
		"\tx":           "'\tx",
		"\rx":           "'\rx",
		" =x":           " =x",
		"a=b":           "a=b",
		"'quoted":       "'quoted",
		"李小龙":           "李小龙",
	} {
		if got := rubrica.SafeCell(in); got != want {
			t.Errorf("SafeCell(%q): got %q, want %q", in, got, want)
		}
	}
}

func TestParseMonth(t *testing.T) {
	t.Parallel()
	start, end, err := rubrica.ParseMonth("month", "2024-12")
	if err != nil || !start.Equal(time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC)) || !end.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ParseMonth(2024-12): got %s, %s, %v, want December 2024 in UTC", start, end, err)
	}
	for _, bad := range []string{"", "2024", "2024-00", "2024-13", "2024-1", "24-01", " 2024-01", "2024-01-01", "２０２４-01"} {
		if _, _, err := rubrica.ParseMonth("month", bad); rubrica.ErrorCode(err) != rubrica.EINVALID || rubrica.ErrorField(err) != "month" {
			t.Errorf("ParseMonth(%q): got %v, want BAD_USER_INPUT about month", bad, err)
		}
	}
}

func TestContactSelectionValidate(t *testing.T) {
	t.Parallel()
	f := &rubrica.ContactFilter{}
	for _, tc := range []struct {
		name string
		sel  rubrica.ContactSelection
		ok   bool
	}{
		{"IDs", rubrica.ContactSelection{IDs: []string{"a"}}, true},
		{"Filter", rubrica.ContactSelection{Filter: f}, true},
		{"Both", rubrica.ContactSelection{IDs: []string{"a"}, Filter: f}, false},
		{"BothEmptyIDs", rubrica.ContactSelection{IDs: []string{}, Filter: f}, false},
		{"Neither", rubrica.ContactSelection{}, false},
		{"EmptyIDs", rubrica.ContactSelection{IDs: []string{}}, false},
	} {
		err := tc.sel.Validate("contactIds")
		if (err == nil) != tc.ok || (err != nil && rubrica.ErrorField(err) != "contactIds") {
			t.Errorf("%s: got %v, want ok=%v (errors about contactIds)", tc.name, err, tc.ok)
		}
	}
}
