-- test_lua: an uncaught error ends `metaplast run` with status 1 and the message on stderr.
require("metaplast").search{episodes = 0}
