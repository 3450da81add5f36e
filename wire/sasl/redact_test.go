package sasl

import (
	"fmt"
	"strings"
	"testing"
)

// TestCredentialsRedacted formats every credential-holding type, alone and inside other
// values, with every common verb, and checks the secrets never appear.
func TestCredentialsRedacted(t *testing.T) {
	const pass, tok, ext = "hunter2-pass", "tok3n-value", "ext3nsion-value"
	values := []any{
		Plain{User: "u", Password: pass},
		SCRAMSHA256{User: "u", Password: pass},
		SCRAMSHA512{User: "u", Password: pass},
		Token{Value: tok, Extensions: map[string]string{"k": ext}},
	}
	type holder struct {
		M   Mechanism
		Any any
	}
	for _, v := range values {
		wrapped := []any{v, &v, holder{Any: v}, []any{v}, map[string]any{"x": v}}
		if m, ok := v.(Mechanism); ok {
			wrapped = append(wrapped, holder{M: m}, &holder{M: m})
		}
		for _, w := range wrapped {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%T %[1]v"} {
				out := fmt.Sprintf(verb, w)
				for _, secret := range []string{pass, tok, ext} {
					if strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%x", secret)) {
						t.Errorf("%s of %T shows a secret: %s", verb, w, out)
					}
				}
			}
		}
		if s, ok := v.(fmt.Stringer); !ok || !strings.Contains(s.String(), "<redacted>") {
			t.Errorf("%T.String does not say <redacted>", v)
		}
		if g, ok := v.(fmt.GoStringer); !ok || strings.Contains(g.GoString(), pass) || strings.Contains(g.GoString(), tok) {
			t.Errorf("%T.GoString shows a secret", v)
		}
	}
}
