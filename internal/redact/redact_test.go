package redact_test

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"

	"github.com/coldstandby/coldstandby/internal/redact"
)

const secret = "s3cr3t-pa55"

// holder is a credential-holding type as the drivers write it.
type holder struct {
	user string
	pass *redact.Secret
}

func (h *holder) info() redact.Info {
	return redact.Info{Type: "test.holder", Attrs: []slog.Attr{slog.String("user", h.user), slog.Any("password", h.pass)}}
}
func (h *holder) String() string                { return h.info().String() }
func (h *holder) GoString() string              { return h.info().String() }
func (h *holder) Format(f fmt.State, verb rune) { h.info().Format(f, verb) }
func (h *holder) LogValue() slog.Value          { return h.info().LogValue() }

// leaky holds the password in a plain string, as the drivers did.
type leaky struct {
	user, pass string
}

func TestSecretNeverShowsItsValue(t *testing.T) {
	s := redact.New(secret)
	if got := redact.Leaks(s, secret); len(got) != 0 {
		t.Errorf("Secret leaks through %v", got)
	}
	if s.Reveal() != secret {
		t.Errorf("Reveal = %q", s.Reveal())
	}
	var nilSecret *redact.Secret
	if nilSecret.Reveal() != "" {
		t.Error("nil Secret reveals something")
	}
}

func TestHolderDescribesItselfWithoutTheSecret(t *testing.T) {
	h := &holder{user: "admin", pass: redact.New(secret)}
	if got := redact.Leaks(h, secret); len(got) != 0 {
		t.Errorf("holder leaks through %v", got)
	}
	// A copy of the struct (no methods) prints the Secret's address only.
	if got := redact.Leaks(*h, secret); len(got) != 0 {
		t.Errorf("holder value leaks through %v", got)
	}
	if want := "test.holder{user: admin, password: [redacted]}"; h.String() != want {
		t.Errorf("String = %q, want %q", h.String(), want)
	}
	if got := fmt.Sprintf("%q", h); got != `"test.holder{user: admin, password: [redacted]}"` {
		t.Errorf("%%q = %s", got)
	}
}

// TestLeaksFindsAPlainPassword: the check that every driver test relies
// on must catch the mistake it exists for.
func TestLeaksFindsAPlainPassword(t *testing.T) {
	got := redact.Leaks(&leaky{user: "admin", pass: secret}, secret)
	for _, form := range []string{"fmt %v", "fmt %+v", "fmt %#v", "slog text", "slog JSON"} {
		if !slices.Contains(got, form) {
			t.Errorf("Leaks misses %s (found %v)", form, got)
		}
	}
}
