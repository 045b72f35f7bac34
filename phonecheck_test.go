package rubrica

import (
	"fmt"
	"testing"
)

// TestPhoneChecksRemembered: a remembered check answers as libphonenumber did, for valid and
// invalid numbers, across generations of the memory.
func TestPhoneChecksRemembered(t *testing.T) {
	cases := []struct {
		in, region string
		valid      bool
	}{
		{"+393331234567", "IT", true},
		{"+14155552671", "US", true},
		{"+39333", "", false},
		{"+5511912345678", "BR", true},
	}
	for round := range 3 {
		for _, c := range cases {
			p, region, err := NormalizePhone("phone", &c.in)
			if c.valid != (err == nil) || region != c.region || (c.valid && *p != c.in) {
				t.Errorf("round %d, %s: got %v, %q, %v; want valid %v, region %q", round, c.in, p, region, err, c.valid, c.region)
			}
		}
		for i := range maxPhoneChecks + 10 { // fill a generation and start the next
			s := fmt.Sprintf("+3934%08d", i)
			NormalizePhone("phone", &s)
		}
	}
}
