"""工单进度查询: a citizen asks for their order's progress by phone, with a key during the greeting."""
