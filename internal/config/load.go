package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxNodes bounds the work of the key check on documents with many or
// deeply nested aliases; real configuration files are far smaller.
const maxNodes = 100_000

// Load reads the configuration file at path, decodes it strictly, applies
// defaults to absent keys and validates the result. Every error message
// starts with path, and with the line where it is known:
//
//	callwerk.yaml:12: queues[0].ringtimeout: unknown key (valid: name, ring_timeout, wrapup)
//
// Several problems are returned together, one per line ([errors.Join]); each
// wraps a [*FieldError] where the problem belongs to a key.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // pe repeats the path
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return parse(path, data)
}

// Parse is [Load] for a document in memory; messages start with "line N: "
// where the line is known.
func Parse(data []byte) (*Config, error) {
	return parse("", data)
}

func parse(file string, data []byte) (*Config, error) {
	root, err := readDocument(data)
	if err != nil {
		return nil, yamlErrors(file, err)
	}
	w := &walker{lines: map[string]int{}, zero: map[string]bool{}, budget: maxNodes}
	var c Config
	if root != nil {
		w.walk(root, reflect.TypeFor[Config](), "", root.Line)
		if len(w.errs) > 0 {
			return nil, errors.Join(w.located(file)...)
		}
		// The walk has named every unknown key and bad value by its path; the
		// strict decode stays as the authority on what yaml.v3 accepts.
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			return nil, yamlErrors(file, err)
		}
	}
	c.ApplyDefaults()
	w.restoreZeros(&c)
	if err := c.Validate(); err != nil {
		return nil, withLines(file, w.lines, err)
	}
	return &c, nil
}

// readDocument returns the root node of the only document in data, or nil
// for an empty document.
func readDocument(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, fmt.Errorf("line %d: only one YAML document is allowed", next.Line)
	case !errors.Is(err, io.EOF):
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if isNull(root) {
		return nil, nil
	}
	return root, nil
}

// yamlErrors places yaml.v3's errors in file, one per problem, without its
// "yaml: " prefix (the line is in its text: "line 3: ...").
func yamlErrors(file string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return &lineError{file: file, err: errors.New(strings.TrimPrefix(err.Error(), "yaml: "))}
	}
	errs := make([]error, len(te.Errors))
	for i, msg := range te.Errors {
		errs[i] = &lineError{file: file, err: errors.New(msg)}
	}
	return errors.Join(errs...)
}

// walker checks a YAML node tree against the Go types before decoding, so
// that unknown keys and bad values are reported with their path and line,
// all at once. It also records the line of every key for later messages.
type walker struct {
	lines  map[string]int      // path -> line of its key or list item
	zero   map[string]bool     // duration path -> written as zero in the file
	errs   []*lineError        // line set, file not yet
	budget int                 // nodes left to visit
	active map[*yaml.Node]bool // anchored nodes being walked, to stop at cycles
}

var durationType = reflect.TypeFor[Duration]()

func (w *walker) fail(line int, path, problem string) {
	w.errs = append(w.errs, &lineError{line: line, err: &FieldError{Path: path, Problem: problem}})
}

// walk checks n as a value of type t at path; line is where the key or list
// item is written.
func (w *walker) walk(n *yaml.Node, t reflect.Type, path string, line int) {
	if w.budget--; w.budget < 0 {
		if w.budget == -1 {
			w.fail(line, path, "document too large (too many nodes or aliases)")
		}
		return
	}
	n, leave, ok := w.follow(n)
	defer leave()
	if !ok {
		w.fail(line, path, "an alias refers to the node that contains it")
		return
	}
	if n == nil || isNull(n) {
		return // absent: the zero value, then the default
	}
	if path != "" {
		w.lines[path] = line
	}
	switch {
	case t == durationType:
		d, err := parseDuration(n)
		if err != nil {
			w.fail(line, path, err.Error())
			return
		}
		w.zero[path] = d == 0
	case t.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			w.fail(line, path, "expected a single value, got "+kindName(n))
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.fail(line, path, "expected a list, got "+kindName(n))
			return
		}
		for i, item := range n.Content {
			w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), item.Line)
		}
	case t.Kind() == reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			w.fail(line, path, fmt.Sprintf("expected true or false, got %q", n.Value))
			return
		}
		w.zero[path] = !b
	case t.Kind() == reflect.Int:
		var i int
		if n.Kind != yaml.ScalarNode || n.Decode(&i) != nil {
			w.fail(line, path, fmt.Sprintf("expected a whole number, got %q", n.Value))
			return
		}
		w.zero[path] = i == 0
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.fail(line, path, "expected a mapping of names to values, got "+kindName(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				w.fail(k.Line, path, "keys must be plain names, got "+kindName(k))
				continue
			}
			w.walk(v, t.Elem(), path+"."+k.Value, k.Line)
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.fail(line, path, "expected a mapping of keys, got "+kindName(n))
			return
		}
		w.mapping(n, t, path)
	}
}

// mapping checks the keys of a mapping node. Merge keys (<<: *anchor) are
// followed first, so that explicit keys win as they do when decoding.
func (w *walker) mapping(n *yaml.Node, t reflect.Type, path string) {
	if w.budget--; w.budget < 0 {
		return
	}
	names, types := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			w.merge(n.Content[i+1], t, path, k.Line)
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			w.fail(k.Line, path, "keys must be plain names, got "+kindName(k))
			continue
		}
		p := k.Value
		if path != "" {
			p = path + "." + k.Value
		}
		if first, dup := seen[k.Value]; dup {
			w.fail(k.Line, p, fmt.Sprintf("duplicate key (first at line %d)", first))
			continue
		}
		seen[k.Value] = k.Line
		ft, ok := types[k.Value]
		if !ok {
			w.fail(k.Line, p, "unknown key (valid: "+strings.Join(names, ", ")+")")
			continue
		}
		w.walk(v, ft, p, k.Line)
	}
}

// merge checks the value of a merge key: a mapping or a list of mappings.
func (w *walker) merge(v *yaml.Node, t reflect.Type, path string, line int) {
	v, leave, ok := w.follow(v)
	defer leave()
	if !ok {
		w.fail(line, path, "an alias refers to the node that contains it")
		return
	}
	if v == nil {
		return
	}
	switch v.Kind {
	case yaml.MappingNode:
		w.mapping(v, t, path)
	case yaml.SequenceNode:
		for _, m := range v.Content {
			w.merge(m, t, path, line)
		}
	default:
		w.fail(line, path, "a merge key (<<) needs a mapping or a list of mappings")
	}
}

// follow resolves an alias and marks its anchor as being walked until
// leave is called; ok is false when the anchor is already being walked: an
// alias inside the node it refers to.
func (w *walker) follow(n *yaml.Node) (target *yaml.Node, leave func(), ok bool) {
	if n == nil || n.Kind != yaml.AliasNode {
		return n, func() {}, true
	}
	a := n.Alias
	if a == nil || w.active[a] {
		return nil, func() {}, false
	}
	if w.active == nil {
		w.active = map[*yaml.Node]bool{}
	}
	w.active[a] = true
	target, inner, ok := w.follow(a)
	return target, func() { inner(); delete(w.active, a) }, ok
}

// restoreZeros puts back durations written as 0 in the file, which
// ApplyDefaults took for absent: in a file, 0s means zero.
func (w *walker) restoreZeros(c *Config) {
	if w.zero["sip.max_calls"] {
		c.SIP.MaxCalls = 0
	}
	if w.zero["media.quarantine"] {
		c.Media.Quarantine = 0
	}
	if w.zero["media.timeout"] {
		c.Media.Timeout = 0
	}
	for i := range c.Queues {
		if w.zero[fmt.Sprintf("queues[%d].ring_timeout", i)] {
			c.Queues[i].RingTimeout = 0
		}
		if w.zero[fmt.Sprintf("queues[%d].wrapup", i)] {
			c.Queues[i].Wrapup = 0
		}
		if w.zero[fmt.Sprintf("queues[%d].max_misses", i)] {
			c.Queues[i].MaxMisses = 0
		}
		if w.zero[fmt.Sprintf("queues[%d].reject_backoff", i)] {
			c.Queues[i].RejectBackoff = 0
		}
		if w.zero[fmt.Sprintf("queues[%d].leave_when_empty", i)] {
			c.Queues[i].LeaveWhenEmpty = false
		}
		if w.zero[fmt.Sprintf("queues[%d].announce_first", i)] {
			c.Queues[i].AnnounceFirst = 0
		}
		if w.zero[fmt.Sprintf("queues[%d].announce_every", i)] {
			c.Queues[i].AnnounceEvery = 0
		}
	}
}

// located returns the walk's errors with the file name set.
func (w *walker) located(file string) []error {
	errs := make([]error, len(w.errs))
	for i, e := range w.errs {
		e.file = file
		errs[i] = e
	}
	return errs
}

// withLines prefixes each error of a Validate result with the file and the
// line of the nearest key of its path that is written in the file.
func withLines(file string, lines map[string]int, err error) error {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		line := 0
		var fe *FieldError
		if errors.As(e, &fe) {
			line = lineOf(lines, fe.Path)
		}
		if file == "" && line == 0 {
			out = append(out, e)
			continue
		}
		out = append(out, &lineError{file: file, line: line, err: e})
	}
	return errors.Join(out...)
}

// lineOf returns the line of path or of its nearest written parent.
func lineOf(lines map[string]int, path string) int {
	for path != "" {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

// yamlFields lists the YAML keys of struct type t in declaration order.
func yamlFields(t reflect.Type) (names []string, types map[string]reflect.Type) {
	types = make(map[string]reflect.Type, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		names = append(names, name)
		types[name] = f.Type
	}
	return names, types
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	default:
		return "a single value"
	}
}

// lineError places an error in the file: "FILE:LINE: ...", "FILE: ...",
// or "line LINE: ..." without a file.
type lineError struct {
	file string
	line int
	err  error
}

func (e *lineError) Error() string {
	switch {
	case e.file != "" && e.line > 0:
		return fmt.Sprintf("%s:%d: %v", e.file, e.line, e.err)
	case e.file != "":
		return fmt.Sprintf("%s: %v", e.file, e.err)
	case e.line > 0:
		return fmt.Sprintf("line %d: %v", e.line, e.err)
	default:
		return e.err.Error()
	}
}

func (e *lineError) Unwrap() error { return e.err }
