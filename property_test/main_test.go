package property_test

import (
	"testing"

	"github.com/troupe-go/troupe/internal/testmain"
)

func TestMain(m *testing.M) { testmain.Run(m) }
