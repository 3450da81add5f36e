package errcode_test

import (
	"errors"
	"fmt"

	"github.com/troupe-go/troupe/wire/errcode"
)

func ExampleForCode() {
	// A partition's error code, as read from a Produce response.
	var code int16 = 6
	err := fmt.Errorf("produce to orders-3: %w", errcode.ForCode(code))
	fmt.Println(err)
	fmt.Println(errors.Is(err, errcode.NotLeaderOrFollower), errcode.Retriable(err))
	// Output:
	// produce to orders-3: NOT_LEADER_OR_FOLLOWER (6)
	// true true
}
