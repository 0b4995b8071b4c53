package config

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every key of Config has a row in docs/config.md.
func TestEveryKeyDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/config.md")
	require.NoError(t, err)
	doc := string(b)
	var walk func(t reflect.Type, prefix string)
	walk = func(typ reflect.Type, prefix string) {
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			path := prefix + name
			ft := f.Type
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
				walk(ft.Elem(), path+"[].")
				continue
			}
			if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct { // an optional block: its row and its keys'
				assert.True(t, strings.Contains(doc, "| `"+path+"` |"), "docs/config.md has no row for %s", path)
				walk(ft.Elem(), path+".")
				continue
			}
			if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[Duration]() {
				walk(ft, path+".")
				continue
			}
			assert.True(t, strings.Contains(doc, "| `"+path+"` |"), "docs/config.md has no row for %s", path)
		}
	}
	walk(reflect.TypeFor[Config](), "")
}
