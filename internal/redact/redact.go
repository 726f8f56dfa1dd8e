// Package redact keeps credentials out of every output form of the values
// that hold them: fmt verbs (%v, %+v, %#v, %s, %q), log/slog handlers and
// encoding/json. The drivers store passwords in a *Secret and describe
// themselves with an Info, so that printing or logging a driver shows
// where it points and as whom, never the password.
//
// Why both: fmt prints the unexported fields of a struct without calling
// their String methods, so a password held in a plain string field leaks
// through %+v of the struct that holds it. A *Secret field prints as an
// address there, and the struct's own Format (through Info) prints a
// safe description instead of its fields.
package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// Mask is what a credential prints as.
const Mask = "[redacted]"

// Secret holds a credential. Only Reveal returns it; every formatting,
// logging and encoding method returns Mask. The zero value and nil hold
// the empty credential.
//
// The credential sits behind a second pointer: fmt prints a struct
// field it cannot call methods on (an unexported one) by value, and for
// a pointer to a struct it prints the struct; for a pointer to a string
// it prints only the address.
type Secret struct{ v *string }

// New returns a Secret holding s.
func New(s string) *Secret { return &Secret{v: &s} }

// Reveal returns the credential, for the one place that sends it.
func (s *Secret) Reveal() string {
	if s == nil || s.v == nil {
		return ""
	}
	return *s.v
}

// String implements fmt.Stringer.
func (s *Secret) String() string { return Mask }

// GoString implements fmt.GoStringer.
func (s *Secret) GoString() string { return Mask }

// Format implements fmt.Formatter for every verb.
func (s *Secret) Format(f fmt.State, verb rune) { writeVerb(f, verb, Mask) }

// LogValue implements slog.LogValuer.
func (s *Secret) LogValue() slog.Value { return slog.StringValue(Mask) }

// MarshalText implements encoding.TextMarshaler (and so JSON and slog's
// text handler).
func (s *Secret) MarshalText() ([]byte, error) { return []byte(Mask), nil }

// Info is the safe description of a value that holds a credential: its
// type name and the attributes it may show (endpoint, user, ...). A
// driver's String, GoString, Format and LogValue all return its Info.
type Info struct {
	Type  string
	Attrs []slog.Attr
}

// String renders Type{key: value, ...}.
func (i Info) String() string {
	var b strings.Builder
	b.WriteString(i.Type)
	b.WriteByte('{')
	for n, a := range i.Attrs {
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.Key)
		b.WriteString(": ")
		b.WriteString(a.Value.Resolve().String())
	}
	b.WriteByte('}')
	return b.String()
}

// Format writes String for every verb (quoted for %q).
func (i Info) Format(f fmt.State, verb rune) { writeVerb(f, verb, i.String()) }

// LogValue is a group of the attributes.
func (i Info) LogValue() slog.Value { return slog.GroupValue(i.Attrs...) }

// MarshalJSON encodes the attributes as an object.
func (i Info) MarshalJSON() ([]byte, error) {
	m := make(map[string]string, len(i.Attrs))
	for _, a := range i.Attrs {
		m[a.Key] = a.Value.Resolve().String()
	}
	return json.Marshal(m)
}

func writeVerb(w io.Writer, verb rune, s string) {
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	_, _ = io.WriteString(w, s)
}

// Leaks formats v in every form a program might use to show or log it
// and returns the names of the forms whose output contains secret (none
// when v is safe). Tests of credential-holding types call it.
func Leaks(v any, secret string) []string {
	var out []string
	check := func(form, text string) {
		if secret != "" && strings.Contains(text, secret) {
			out = append(out, form)
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		check("fmt "+verb, fmt.Sprintf(verb, v))
	}
	check("fmt.Sprint", fmt.Sprint(v))
	check("fmt.Sprintln", fmt.Sprintln(v))
	check("error wrapping %v", fmt.Errorf("op on %v: failed", v).Error())
	if b, err := json.Marshal(v); err == nil {
		check("encoding/json", string(b))
	}
	for name, h := range map[string]func(io.Writer) slog.Handler{
		"slog text": func(w io.Writer) slog.Handler {
			return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
		},
		"slog JSON": func(w io.Writer) slog.Handler {
			return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
		},
	} {
		var buf bytes.Buffer
		l := slog.New(h(&buf))
		l.Info("value", "v", v)
		l.Info("any", slog.Any("v", v))
		l.With("v", v).Info("with")
		l.WithGroup("g").Info("group", "v", v)
		l.Info(fmt.Sprint(v))
		check(name, buf.String())
	}
	return out
}
