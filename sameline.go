package rubrica

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Same-line phone forms. National dialling changes left some mobiles with two E.164 forms
// that reach one line; duplicate detection treats them as one value, shown in the current
// form. Stored numbers are never rewritten. The rules, checked against libphonenumber's
// metadata (nyaruka/phonenumbers) and the national numbering plans:
//
//   - Brazil (+55): mobiles gained a ninth digit (Anatel, 2012-2016): DDD (two digits) then
//     9 and the old eight digits. libphonenumber's mobile pattern is DDD + 9 + eight digits;
//     the old mobile subscriber numbers began with 6 to 9, fixed lines begin with 2 to 5. So
//     +55 DDD [6-9]xxxxxxx (old, invalid now) is +55 DDD 9 [6-9]xxxxxxx when that is a valid
//     MOBILE. A landline (+55 11 3xxx xxxx) has no other form.
//   - Mexico (+52): the 1 after +52 that mobiles took from abroad was dropped (IFT, 2019-2020):
//     +52 1 + ten digits (invalid now) is +52 + those ten digits when they are valid (MX
//     numbers are FIXED_LINE_OR_MOBILE in the metadata).
//   - Argentina (+54): mobiles are dialled from abroad with a 9 after +54; the ten digits
//     after it name one line, mobile or fixed, so +54 + ten digits and +54 9 + the same ten
//     digits are one line when the first is valid and the second a valid MOBILE. Both forms
//     are valid; the current (WhatsApp's) form is the one with the 9.

// PhoneLineForm returns the current form of a phone number: the number itself unless it is
// the old or other form of a same-line pair above. It takes any string ("+" and digits);
// anything else is returned as it is.
func PhoneLineForm(phone string) string {
	if cur, ok := currentForm(phone); ok {
		return cur
	}
	return phone
}

// PhoneLineForms returns every form that reaches the same line as phone: its current form
// first, then the other form, if any.
func PhoneLineForms(phone string) []string {
	cur := PhoneLineForm(phone)
	if old, ok := otherForm(cur); ok {
		return []string{cur, old}
	}
	return []string{cur}
}

// SameLine reports whether two phone numbers reach the same line.
func SameLine(a, b string) bool { return PhoneLineForm(a) == PhoneLineForm(b) }

// currentForm maps an old or other form to the current one.
func currentForm(p string) (string, bool) {
	digits, ok := strings.CutPrefix(p, "+")
	if !ok || !allDigits(digits) {
		return "", false
	}
	switch {
	case len(digits) == 12 && strings.HasPrefix(digits, "55") && digits[4] >= '6': // +55 DDD xxxxxxxx
		cur := "+55" + digits[2:4] + "9" + digits[4:]
		return cur, isType(cur, phonenumbers.MOBILE) && !isValid(p)
	case len(digits) == 13 && strings.HasPrefix(digits, "521"): // +52 1 + ten digits
		cur := "+52" + digits[3:]
		return cur, isValid(cur) && !isValid(p)
	case len(digits) == 12 && strings.HasPrefix(digits, "54") && digits[2] != '9': // +54 + ten digits
		cur := "+549" + digits[2:]
		return cur, isValid(p) && isType(cur, phonenumbers.MOBILE)
	}
	return "", false
}

// otherForm maps a current form to the other form of the same line.
func otherForm(cur string) (string, bool) {
	digits, ok := strings.CutPrefix(cur, "+")
	if !ok || !allDigits(digits) {
		return "", false
	}
	var other string
	switch {
	case len(digits) == 13 && strings.HasPrefix(digits, "55") && digits[4] == '9' && digits[5] >= '6':
		other = "+55" + digits[2:4] + digits[5:]
	case len(digits) == 12 && strings.HasPrefix(digits, "52"):
		other = "+521" + digits[2:]
	case len(digits) == 13 && strings.HasPrefix(digits, "549"):
		other = "+54" + digits[3:]
	default:
		return "", false
	}
	if back, ok := currentForm(other); ok && back == cur {
		return other, true
	}
	return "", false
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func parsed(p string) (*phonenumbers.PhoneNumber, bool) {
	n, err := phonenumbers.Parse(p, "")
	return n, err == nil
}

func isValid(p string) bool {
	n, ok := parsed(p)
	return ok && phonenumbers.IsValidNumber(n)
}

func isType(p string, t phonenumbers.PhoneNumberType) bool {
	n, ok := parsed(p)
	return ok && phonenumbers.IsValidNumber(n) && phonenumbers.GetNumberType(n) == t
}

// NormalizeWhatsAppIdentifier accepts a WhatsApp identifier: a valid E.164 phone, or the old
// Brazilian or Mexican form of one (invalid for libphonenumber, still the identifier of older
// WhatsApp accounts). It returns the identifier as it came and the phone to store: its
// current form.
func NormalizeWhatsAppIdentifier(identifier string) (id, phone string, err error) {
	s := strings.TrimSpace(identifier)
	if cur, ok := currentForm(s); ok && !isValid(s) {
		return s, cur, nil
	}
	p, _, err := NormalizePhone("identifier", &s)
	if err != nil {
		return "", "", err
	}
	if p == nil {
		return "", "", InvalidField("identifier", "a WHATSAPP identifier is a phone number in E.164 form.")
	}
	return *p, *p, nil
}
