#include "datapath/util/status.h"
