//go:build !goexperiment.jsonv2

package validate

// encoding/json v1: SyntaxError.Offset is just past the offending byte.
const syntaxOffsetAdjust = 0
