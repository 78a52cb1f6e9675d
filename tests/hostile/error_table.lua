-- expect: raised an error that is not a message but a table
error({})
