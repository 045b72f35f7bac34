package rubrica

import (
	"slices"
	"testing"
)

func TestPhoneLineForms(t *testing.T) {
	for _, tc := range []struct {
		name  string
		a, b  string
		same  bool
		value string // the current form of a
	}{
		{"BR São Paulo mobile, old 8 digits", "+551187654321", "+5511987654321", true, "+5511987654321"},
		{"BR Rio mobile, old 8 digits", "+552196543210", "+5521996543210", true, "+5521996543210"},
		{"BR current form is itself", "+5511987654321", "+5511987654321", true, "+5511987654321"},
		{"BR São Paulo landline with a 9", "+551132345678", "+5511932345678", false, "+551132345678"},
		{"BR landline of another area", "+552125551234", "+5521925551234", false, "+552125551234"},
		{"BR mobiles of two areas", "+551187654321", "+5521987654321", false, "+5511987654321"},
		{"MX old 1 after +52", "+5215512345678", "+525512345678", true, "+525512345678"},
		{"MX Monterrey old form", "+5218112345678", "+528112345678", true, "+528112345678"},
		{"MX two lines", "+5215512345678", "+525512345679", false, "+525512345678"},
		{"AR Buenos Aires with and without 9", "+541123456789", "+5491123456789", true, "+5491123456789"},
		{"AR Córdoba with and without 9", "+543515551234", "+5493515551234", true, "+5493515551234"},
		{"AR two lines", "+541123456789", "+5491123456780", false, "+5491123456789"},
		{"IT a 9 more is another number", "+39333123456", "+393339123456", false, "+39333123456"},
		{"US is untouched", "+12125551234", "+121255512349", false, "+12125551234"},
		{"PT a 1 after the code", "+3511912345678", "+351912345678", false, "+3511912345678"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SameLine(tc.a, tc.b); got != tc.same {
				t.Errorf("SameLine(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.same)
			}
			if got := PhoneLineForm(tc.a); got != tc.value {
				t.Errorf("PhoneLineForm(%s) = %s, want %s", tc.a, got, tc.value)
			}
			forms := PhoneLineForms(tc.a)
			if forms[0] != tc.value {
				t.Errorf("PhoneLineForms(%s) = %v, want %s first", tc.a, forms, tc.value)
			}
			if tc.same && !slices.Contains(forms, tc.a) || tc.same && !slices.Contains(forms, tc.b) {
				t.Errorf("PhoneLineForms(%s) = %v, want both %s and %s", tc.a, forms, tc.a, tc.b)
			}
		})
	}
}

func TestNormalizeWhatsAppIdentifier(t *testing.T) {
	for _, tc := range []struct{ in, id, phone string }{
		{"+551187654321", "+551187654321", "+5511987654321"},
		{"+5215512345678", "+5215512345678", "+525512345678"},
		{"+5511987654321", "+5511987654321", "+5511987654321"},
		{"+541123456789", "+541123456789", "+541123456789"}, // valid: kept as it is
	} {
		id, phone, err := NormalizeWhatsAppIdentifier(tc.in)
		if err != nil || id != tc.id || phone != tc.phone {
			t.Errorf("NormalizeWhatsAppIdentifier(%s) = %s, %s, %v; want %s, %s", tc.in, id, phone, err, tc.id, tc.phone)
		}
	}
	for _, bad := range []string{"+551132345678x", "+55113234567", "551187654321", "+5211234"} {
		if _, _, err := NormalizeWhatsAppIdentifier(bad); ErrorCode(err) != EINVALID {
			t.Errorf("NormalizeWhatsAppIdentifier(%s): %v, want BAD_USER_INPUT", bad, err)
		}
	}
}
