-- expect: expressions cannot be modified
pre.__gc = function() while true do end end
