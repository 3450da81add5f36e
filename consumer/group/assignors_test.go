package group

func allAssignors() []Assignor {
	return []Assignor{Range(), RoundRobin(), Sticky(), CooperativeSticky()}
}
