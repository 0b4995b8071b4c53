package prompts

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuiltinPromptsLoad(t *testing.T) {
	for name, least := range map[string]time.Duration{Invalid: time.Second, Goodbye: 2 * time.Second, MenuDemo: 5 * time.Second} {
		src, err := Load(name)
		require.NoError(t, err, name)
		assert.Greater(t, time.Duration(src.Frames())*20*time.Millisecond, least, name)
	}
	_, err := Load("nope")
	assert.Error(t, err)
}
