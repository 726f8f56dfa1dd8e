package site

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"

	"github.com/coldstandby/coldstandby/failover"
)

// Problem is one thing wrong with a site: where (a path such as
// "servers[3].hbas[0].wwpn", "" for the whole file, and its line, 0 when
// unknown) and what.
type Problem struct {
	Path string `json:"path"`
	Line int    `json:"line,omitempty"`
	Msg  string `json:"message"`
}

func (p Problem) String() string {
	where := p.Path
	if where == "" {
		where = "(site)"
	}
	if p.Line > 0 {
		where = fmt.Sprintf("line %d: %s", p.Line, where)
	}
	return where + ": " + p.Msg
}

// Error lists every problem of a site file at once. It wraps
// failover.ErrInvalid.
type Error struct {
	File     string    // the file, when known
	Problems []Problem // sorted by line, then path
}

func (e *Error) Error() string {
	var b strings.Builder
	name := e.File
	if name == "" {
		name = "site"
	}
	fmt.Fprintf(&b, "%s: %d problem(s)", name, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, failover.ErrInvalid) true.
func (e *Error) Unwrap() error { return failover.ErrInvalid }

func newError(file string, probs []Problem) error {
	if len(probs) == 0 {
		return nil
	}
	probs = slices.Clone(probs)
	slices.SortStableFunc(probs, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.Path, b.Path)
	})
	probs = slices.Compact(probs)
	return &Error{File: file, Problems: probs}
}

// Load reads and decodes the site file at path (see Decode), sets the
// site's directory to the file's, and validates it. The error is an
// *Error listing every problem (wrapping failover.ErrInvalid), or the
// file's read error.
func Load(path string) (*Site, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	s, err := Decode(data)
	if s == nil {
		return nil, withFile(err, path)
	}
	var probs []Problem
	var se *Error
	if errors.As(err, &se) {
		probs = se.Problems
	}
	abs, aerr := filepath.Abs(filepath.Dir(path))
	if aerr != nil {
		return nil, fmt.Errorf("site: %w", aerr)
	}
	s.dir = abs
	if errors.As(s.Validate(), &se) {
		probs = append(probs, se.Problems...)
	}
	if len(probs) > 0 {
		return nil, withFile(newError("", probs), path)
	}
	return s, nil
}

func withFile(err error, file string) error {
	var se *Error
	if errors.As(err, &se) {
		se.File = file
	}
	return err
}

// maxAliases bounds how many aliases the decoder follows (a "billion
// laughs" document is refused, not expanded).
const maxAliases = 10000

// Decode decodes a site from YAML strictly; the error is an *Error.
// When only the last check fails (a value YAML reads otherwise than
// written) the decoded site is returned with the error. Decode is strict: an unknown field, a field
// given twice, a value of the wrong kind, an integer not written in
// decimal and an unquoted value that YAML would read as something else
// than what was written (yes, on, 007, 1.50 for a string) are errors,
// all reported at once with their paths and lines. Decode checks the
// form only; Validate checks the content (Load does both).
//
// Values are decoded by sigs.k8s.io/yaml (YAML to JSON, then the json
// tags); the checks above run first on the YAML tree (go.yaml.in/yaml/v3),
// since that conversion coerces silently (an unquoted yes becomes the
// string "true", a key matches a field whatever its case).
func Decode(data []byte) (*Site, error) {
	var root yaml3.Node
	dec := yaml3.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, newError("", []Problem{{Line: 1, Msg: "empty file"}})
		}
		return nil, newError("", []Problem{yamlProblem(err)})
	}
	var extra yaml3.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			return nil, newError("", []Problem{yamlProblem(err)})
		}
		return nil, newError("", []Problem{{Line: line, Msg: "more than one YAML document; a site file holds one"}})
	}
	w := &walker{pos: map[string]int{}, budget: maxAliases}
	doc := &root
	if doc.Kind == yaml3.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	w.walk(doc, reflect.TypeFor[Site](), reflect.Value{}, "")
	if len(w.probs) > 0 {
		return nil, newError("", w.probs)
	}
	var s Site
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		// The tree walk accepts only what the conversion accepts; this is
		// a safety net, reported on the whole file.
		return nil, newError("", []Problem{{Line: 1, Msg: cleanJSONError(err)}})
	}
	// Second walk: every string holds what was written.
	w.budget = maxAliases
	w.walk(doc, reflect.TypeFor[Site](), reflect.ValueOf(&s).Elem(), "")
	s.pos = w.pos
	if len(w.probs) > 0 {
		// The values are decoded: return them with the error, so that
		// Load can report the content's problems too.
		return &s, newError("", w.probs)
	}
	return &s, nil
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{Msg: "not valid YAML: " + msg}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
	}
	if p.Line == 0 {
		p.Line = 1
	}
	return p
}

func cleanJSONError(err error) string {
	s := err.Error()
	for _, pre := range []string{"error unmarshaling JSON: ", "while decoding JSON: ", "json: "} {
		s = strings.ReplaceAll(s, pre, "")
	}
	return s
}

// walker checks a YAML tree against a Go type, the way encoding/json
// would decode it, and records each path's line.
type walker struct {
	probs  []Problem
	pos    map[string]int
	budget int // aliases left to follow
}

func (w *walker) add(n *yaml3.Node, path, format string, args ...any) {
	w.probs = append(w.probs, Problem{Path: path, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	decimal         = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)
)

// resolve follows aliases.
func (w *walker) resolve(n *yaml3.Node, path string) *yaml3.Node {
	for n != nil && n.Kind == yaml3.AliasNode {
		w.budget--
		if w.budget < 0 {
			w.add(n, path, "too many aliases")
			return nil
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml3.Node) bool {
	return n.Kind == yaml3.ScalarNode && n.Tag == "!!null"
}

// walk checks n against t. v is the decoded value (second walk) or
// invalid (first walk).
func (w *walker) walk(n *yaml3.Node, t reflect.Type, v reflect.Value, path string) {
	n = w.resolve(n, path)
	if n == nil || w.budget < 0 {
		return
	}
	if _, ok := w.pos[path]; !ok {
		w.pos[path] = n.Line
	}
	if isNull(n) {
		return // null decodes to the zero value
	}
	if t.Kind() == reflect.Pointer {
		if v.IsValid() {
			if v.IsNil() {
				return
			}
			v = v.Elem()
		}
		w.walk(n, t.Elem(), v, path)
		return
	}
	if t.Kind() != reflect.Struct && (reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler)) {
		w.custom(n, t, path)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		w.structure(n, t, v, path)
	case reflect.Slice:
		if n.Kind != yaml3.SequenceNode {
			w.add(n, path, "want a list, got %s", describe(n))
			return
		}
		for i, c := range n.Content {
			var cv reflect.Value
			if v.IsValid() && i < v.Len() {
				cv = v.Index(i)
			}
			w.walk(c, t.Elem(), cv, fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if n.Kind != yaml3.MappingNode {
			w.add(n, path, "want a mapping, got %s", describe(n))
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := w.resolve(n.Content[i], path), n.Content[i+1]
			if k == nil {
				return
			}
			if k.Kind != yaml3.ScalarNode || k.Tag != "!!str" {
				w.add(k, path, "want a text key, got %s", describe(k))
				continue
			}
			kp := joinKey(path, k.Value)
			if seen[k.Value] {
				w.add(k, kp, "given twice")
				continue
			}
			seen[k.Value] = true
			var mv reflect.Value
			if v.IsValid() {
				mv = v.MapIndex(reflect.ValueOf(k.Value))
			}
			w.walk(val, t.Elem(), mv, kp)
		}
	case reflect.String:
		if n.Kind != yaml3.ScalarNode {
			w.add(n, path, "want a text value, got %s", describe(n))
			return
		}
		if v.IsValid() && n.Style&(yaml3.DoubleQuotedStyle|yaml3.SingleQuotedStyle|yaml3.LiteralStyle|yaml3.FoldedStyle) == 0 && v.String() != n.Value {
			w.add(n, path, "YAML reads the unquoted %s as %q; write it in quotes", n.Value, v.String())
		}
	case reflect.Int, reflect.Int64:
		if n.Kind != yaml3.ScalarNode || n.Tag == "!!str" && n.Style != 0 || !decimal.MatchString(n.Value) {
			w.add(n, path, "want a decimal integer, got %s", describe(n))
			return
		}
		if _, err := strconv.ParseInt(n.Value, 10, 32); err != nil {
			w.add(n, path, "integer %s out of range", n.Value)
		}
	case reflect.Bool:
		if n.Kind != yaml3.ScalarNode || n.Style != 0 || (n.Value != "true" && n.Value != "false") {
			w.add(n, path, "want true or false, got %s", describe(n))
		}
	default:
		w.add(n, path, "unsupported field type %s", t) // a bug in this package's types
	}
}

// custom checks a scalar for a type with its own JSON decoding.
func (w *walker) custom(n *yaml3.Node, t reflect.Type, path string) {
	if n.Kind != yaml3.ScalarNode {
		w.add(n, path, "want a text value, got %s", describe(n))
		return
	}
	b, _ := json.Marshal(n.Value)
	p := reflect.New(t)
	var err error
	if u, ok := p.Interface().(json.Unmarshaler); ok {
		err = u.UnmarshalJSON(b)
	} else if u, ok := p.Interface().(encoding.TextUnmarshaler); ok {
		err = u.UnmarshalText([]byte(n.Value))
	}
	if err != nil {
		w.add(n, path, "%s", err)
	}
}

// field is one JSON field of a struct.
type field struct {
	name  string
	index []int
	typ   reflect.Type
}

// fields lists the JSON fields of t as encoding/json sees them (embedded
// structs without a name are flattened).
func fields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for _, sub := range fields(f.Type) {
				sub.index = append([]int{i}, sub.index...)
				out = append(out, sub)
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, field{name: name, index: []int{i}, typ: f.Type})
	}
	return out
}

// secretWords are field names that would hold a secret inline.
var secretWords = []string{"password", "passwd", "secret", "token", "apikey", "privatekey", "pass"}

func looksSecret(name string) bool {
	l := strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(name))
	for _, s := range secretWords {
		if l == s || strings.HasSuffix(l, s) && !strings.HasSuffix(l, "env") {
			return true
		}
	}
	return false
}

func (w *walker) structure(n *yaml3.Node, t reflect.Type, v reflect.Value, path string) {
	if n.Kind != yaml3.MappingNode {
		w.add(n, path, "want a mapping, got %s", describe(n))
		return
	}
	fs := fields(t)
	byName := make(map[string]field, len(fs))
	for _, f := range fs {
		byName[f.name] = f
	}
	seen := map[string]bool{}
	var visit func(m *yaml3.Node, merged bool)
	visit = func(m *yaml3.Node, merged bool) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, val := w.resolve(m.Content[i], path), m.Content[i+1]
			if k == nil {
				return
			}
			if k.Kind == yaml3.ScalarNode && k.Tag == "!!merge" {
				w.merge(val, path, func(mm *yaml3.Node) { visit(mm, true) })
				continue
			}
			if k.Kind != yaml3.ScalarNode || k.Tag != "!!str" {
				w.add(k, path, "want a field name, got %s", describe(k))
				continue
			}
			kp := joinKey(path, k.Value)
			if seen[k.Value] {
				if !merged {
					w.add(k, kp, "given twice")
				}
				continue
			}
			seen[k.Value] = true
			f, ok := byName[k.Value]
			if !ok {
				w.add(k, kp, "%s", unknownField(k.Value, fs))
				continue
			}
			var fv reflect.Value
			if v.IsValid() {
				fv = v.FieldByIndex(f.index)
			}
			w.walk(val, f.typ, fv, kp)
		}
	}
	// Explicit keys first, so that they take precedence over merged ones.
	var merges []*yaml3.Node
	plain := &yaml3.Node{Kind: yaml3.MappingNode}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml3.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, n.Content[i], n.Content[i+1])
			continue
		}
		plain.Content = append(plain.Content, n.Content[i], n.Content[i+1])
	}
	visit(plain, false)
	visit(&yaml3.Node{Kind: yaml3.MappingNode, Content: merges}, true)
}

// merge calls fn with each mapping a merge key ("<<") brings in.
func (w *walker) merge(val *yaml3.Node, path string, fn func(*yaml3.Node)) {
	val = w.resolve(val, path)
	if val == nil {
		return
	}
	switch val.Kind {
	case yaml3.MappingNode:
		fn(val)
	case yaml3.SequenceNode:
		for _, c := range val.Content {
			if c = w.resolve(c, path); c != nil && c.Kind == yaml3.MappingNode {
				fn(c)
			} else if c != nil {
				w.add(c, path, "a merge key takes mappings, got %s", describe(c))
			}
		}
	default:
		w.add(val, path, "a merge key takes mappings, got %s", describe(val))
	}
}

func unknownField(name string, fs []field) string {
	if looksSecret(name) {
		return fmt.Sprintf("unknown field %q: secrets are never written in a site file; give credentials by reference (passwordEnv or passwordFile)", name)
	}
	for _, f := range fs {
		if strings.EqualFold(f.name, name) {
			return fmt.Sprintf("unknown field %q (did you mean %q? field names are case-sensitive)", name, f.name)
		}
	}
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	slices.Sort(names)
	return fmt.Sprintf("unknown field %q (known: %s)", name, strings.Join(names, ", "))
}

func describe(n *yaml3.Node) string {
	switch n.Kind {
	case yaml3.MappingNode:
		return "a mapping"
	case yaml3.SequenceNode:
		return "a list"
	case yaml3.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return strconv.Quote(v)
	}
	return "something else"
}

var ident = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// joinKey appends a field or map key to a path.
func joinKey(path, key string) string {
	if !ident.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// parentPath strips the last element of a path ("" at the top).
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndex(p, "["); i >= 0 {
			// A quoted key may hold "[": find the opening bracket of the
			// last element by scanning for `["` when the element is quoted.
			if strings.HasSuffix(p, `"]`) {
				if j := strings.LastIndex(p, `["`); j >= 0 {
					i = j
				}
			}
			return p[:i]
		}
	}
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}
