package discovery

func childRole() string { return "" }
func childMain(string)  {}
