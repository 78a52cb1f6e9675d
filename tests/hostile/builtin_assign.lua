-- expect: is built in and cannot be assigned
xpcall = function() while true do end end
