package share

import (
	"errors"
	"strings"
	"testing"
)

func sample() Link {
	l := Link{ID: "AbCdEfGh_-0", Scope: "movies/a b.mp4", Expiry: 1893456000}
	for i := range l.Secret {
		l.Secret[i] = byte(i)
	}
	return l
}

func TestParseRoundTrip(t *testing.T) {
	for _, l := range []Link{sample(), {ID: "x", Scope: "", Expiry: 0}} {
		got, err := Parse(l.String())
		if err != nil || got != l {
			t.Fatalf("Parse(%q) = %+v, %v; want %+v", l.String(), got, err, l)
		}
	}
}

func TestParseErrors(t *testing.T) {
	good := sample().String()
	parts := strings.Split(good, ".")
	cases := []struct {
		in   string
		want error
	}{
		{"", ErrTruncated},
		{parts[0], ErrTruncated},
		{strings.Join(parts[:3], "."), ErrTruncated},
		{good[:len(good)-5], ErrTruncated},
		{good + ".x", ErrMalformed},
		{good + "A", ErrMalformed},
		{"a!b." + strings.Join(parts[1:], "."), ErrMalformed},
		{parts[0] + ".***." + strings.Join(parts[2:], "."), ErrMalformed},
		{parts[0] + "." + b64.EncodeToString([]byte("../etc")) + "." + strings.Join(parts[2:], "."), ErrMalformed},
		{parts[0] + "." + b64.EncodeToString([]byte("/abs")) + "." + strings.Join(parts[2:], "."), ErrMalformed},
		{parts[0] + "." + parts[1] + ".-1." + parts[3], ErrMalformed},
		{parts[0] + "." + parts[1] + ".01." + parts[3], ErrMalformed},
		{parts[0] + "." + parts[1] + ".99999999999999999999." + parts[3], ErrMalformed},
		{parts[0] + "." + parts[1] + ".1." + parts[3][:40] + "!!!", ErrMalformed},
	}
	for _, c := range cases {
		if _, err := Parse(c.in); !errors.Is(err, c.want) {
			t.Errorf("Parse(%q) = %v, want %v", c.in, err, c.want)
		}
	}
}

func TestPublicBinary(t *testing.T) {
	p := sample().Public()
	b, err := p.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 1+len(p.ID)+2+len(p.Scope)+8 {
		t.Fatalf("len %d", len(b))
	}
	got, err := ParsePublic(b)
	if err != nil || got != p {
		t.Fatalf("ParsePublic = %+v, %v", got, err)
	}
	for i := range len(b) {
		if _, err := ParsePublic(b[:i]); !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("ParsePublic(%d bytes) = %v", i, err)
		}
	}
	if _, err := ParsePublic(append(b, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample().String())
	f.Add("x.." + "0." + strings.Repeat("A", 43))
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTruncated) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if l.String() != s {
			t.Fatalf("String() = %q, parsed from %q", l.String(), s)
		}
		b, err := l.Public().AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := ParsePublic(b); err != nil || p != l.Public() {
			t.Fatalf("binary round trip: %+v %v", p, err)
		}
	})
}
